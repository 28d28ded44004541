"""Small file helpers shared by every stage: atomic writes and friendly JSON loading.

Every failure here is an :class:`InputError` whose one-line message names the file: a write that the
system refuses (read-only or full disk, a folder where a file should be) as much as a file that cannot
be read (missing, a FIFO or device, malformed or absurdly nested JSON).
"""

from __future__ import annotations

import gc
import json
import os
import reprlib
import stat
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# orjson parses large submissions (100+ MB) faster (docs/benchmarks.md, "Timings behind design choices");
# json stays the reference behaviour
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict, _repr.maxset, _repr.maxlevel = 60, 60, 6, 6, 6, 3


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` of a value, cut to about ``limit`` characters: error messages never format a whole
    (possibly huge) value."""
    text = _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class InputError(ValueError):
    """Bad user input (file missing, malformed, wrong content). ``str(err)`` is one line that names the file."""


def one_line(message: str) -> str:
    """``message`` with line breaks and other control characters escaped (``\\n``): an error is one line,
    whatever names (video ids, frame keys, paths) it quotes."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def file_mode_for(path: Path) -> int:
    """Permission bits for a file about to replace ``path``: the existing file's, else what ``open()``
    would give a new file (``0o666`` less the umask). ``tempfile.mkstemp`` creates its files ``0o600``,
    which would leave every output readable by its owner only."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_error(path: str | os.PathLike, err: OSError) -> InputError:
    """The one-line :class:`InputError` of a write the system refused (no space, read-only, not a folder)."""
    return InputError(f"{path}: cannot write: {err.strerror or err}")


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], mode: str = "w") -> Path:
    """Write ``path`` through ``write(fh)`` into a temporary file in the same folder, then rename it.

    A crash or an exception leaves the previous file untouched: readers never see half a file, and the
    temporary file is removed. The file gets the permissions of the one it replaces, or the usual ones of
    a new file (:func:`file_mode_for`). A write the system refuses (``OSError``: full or read-only disk,
    a file where the folder should be) raises :class:`InputError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        os.fchmod(fd, file_mode_for(path))
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise
    return path


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a block builds millions of acyclic objects.

    Parsing a 100 MB submission or flattening it allocates millions of lists and dicts; each
    allocation burst triggers full collections that walk every live object, which made parsing 5x
    slower. Nothing built inside these blocks forms reference cycles, so pausing is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = None) -> Path:
    """Serialise ``obj`` as JSON to ``path`` atomically."""
    return atomic_write(path, lambda fh: json.dump(obj, fh, indent=indent))


def check_regular_file(path: str | os.PathLike) -> Path:
    """``path`` if it is a regular file (or a link to one); else :class:`InputError`: missing, a dangling
    or looping link, a folder, or a FIFO or device (reading one could block for ever)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as err:
        if isinstance(err, FileNotFoundError) and not path.is_symlink():
            raise InputError(f"{path}: file not found") from None
        why = "a dangling symbolic link" if isinstance(err, FileNotFoundError) else err.strerror or str(err)
        raise InputError(f"{path}: cannot read: {why}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, socket or device)"
        raise InputError(f"{path}: {kind}, expected a file")
    return path


def read_json(path: str | os.PathLike) -> Any:
    """Load a JSON file; a missing, unreadable or malformed file raises :class:`InputError` naming it,
    as does anything but a regular file (:func:`check_regular_file`) and JSON nested deeper than Python's
    recursion limit (about 1000 levels).

    The values are those of ``json.load`` (what the official evaluator sees): orjson is used when it can
    parse the file; anything it refuses (NaN literals, integers beyond 64 bits, errors) goes through json.
    """
    path = check_regular_file(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        with gc_paused():
            if orjson is not None:
                try:
                    return orjson.loads(data)
                except orjson.JSONDecodeError:
                    pass
            return json.loads(data)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: malformed JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise InputError(f"{path}: malformed JSON: nested too deeply") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read: {err}") from None
