"""The ``partparse`` command line: a thin layer over the library, one module per command."""

from __future__ import annotations

import typer

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

app = typer.Typer(add_completion=False, no_args_is_help=True,
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
