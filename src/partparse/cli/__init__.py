"""The ``partparse`` command line: a thin layer over the library, one module per command.

Every command runs inside one error boundary (:class:`_ErrorBoundary`): bad input reaches the user as
``error: <one line>`` on stderr with exit code 2, never as a traceback. Commands report bad input by
raising :class:`partparse.io.InputError` (its message names the file and the place); an ``OSError``
about a file the user named (unwritable or full output folder, an output path that is a file, ...) is
reported the same way. Ctrl-C still exits 130 (typer's handling, outside the boundary); any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import re

# Idle OpenMP threads sleep instead of spinning (set before torch loads its OpenMP runtime; a value in
# the environment wins). On a machine shared with other jobs, spinning threads of two processes fight
# for the cores: the syntps-zoo parse on 2 threads ran 9x slower (4.8 instead of 42 video frames/s) at a
# load average of 6 on 2 cores (docs/benchmarks.md, issue 15).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer
from typer.core import TyperGroup

from partparse.cli import curves as _curves
from partparse.cli import demo as _demo
from partparse.cli import evaluate as _evaluate
from partparse.cli import export as _export
from partparse.cli import fuse as _fuse
from partparse.cli import parse as _parse
from partparse.cli import synth as _synth
from partparse.cli import train as _train
from partparse.cli import validate as _validate
from partparse.cli import zoo as _zoo
from partparse.io import InputError

#: Exit code of every refused input.
USAGE_EXIT = 2
#: The longest error line shown (a message is never a dump of a value).
MAX_ERROR_CHARS = 1000
#: OSErrors that are the user's environment, not a bug: reported in one line.
USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EEXIST, errno.ENOTDIR,
               errno.EISDIR, errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP, errno.EFBIG, errno.EMFILE,
               errno.ENOTEMPTY, errno.EXDEV, errno.EBUSY, errno.ETXTBSY}
# torch's DataLoader re-raises a worker's exception with the worker's whole traceback as its message;
# the last line of that traceback is "module.Class: <the original message>".
_WORKER_TRACEBACK = "Original Traceback (most recent call last):"
_EXCEPTION_PREFIX = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


def one_line(message: str) -> str:
    """The message of an expected error as one bounded line (a DataLoader worker's traceback is reduced
    to the worker's own message)."""
    if _WORKER_TRACEBACK in message:
        lines = [ln for ln in message.splitlines() if ln.strip()]
        message = _EXCEPTION_PREFIX.sub("", lines[-1].strip()) if lines else message
    text = " ".join(message.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def os_error_message(err: OSError) -> str:
    """``<file>: <reason>`` of an OSError (``<file> -> <other>`` for a rename)."""
    where = err.filename if err.filename is not None else ""
    if err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    reason = err.strerror or type(err).__name__
    return f"{where}: {reason}" if where != "" else f"{reason}"


class _ErrorBoundary(TyperGroup):
    """The group of all commands: turns expected errors of any command into one line + exit 2."""

    def invoke(self, ctx):  # noqa: ANN001 - click's signature
        try:
            return super().invoke(ctx)
        except InputError as err:
            message = one_line(str(err))
        except OSError as err:
            if err.errno not in USER_ERRNOS:
                raise
            message = one_line(os_error_message(err))
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(USAGE_EXIT)


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=_ErrorBoundary,
                  help="partparse: part-level action parsing in video (Kinetics-TPS).")
app.command("evaluate")(_evaluate.evaluate)
app.command("validate")(_validate.validate)
app.command("fuse")(_fuse.fuse)
app.command("synth")(_synth.synth)
app.command("demo")(_demo.demo)
app.command("train")(_train.train)
app.command("export-coco")(_export.export_coco)
app.command("parse")(_parse.parse)
app.add_typer(_zoo.app, name="zoo")
app.command("curves")(_curves.curves)


def main() -> None:
    app()
