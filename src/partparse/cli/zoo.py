"""``partparse zoo``: list, check and extend the model zoo.

    partparse zoo list                         # every entry, its task and validation metrics
    partparse zoo show NAME                    # one entry: files, checksums, rebuild commands, training
    partparse zoo verify                       # check every file's sha256 (exit 2 on the first failure)
    partparse zoo pack RUN_DIR --name NAME --recipe R --data-command CMD --metrics '{"top1_action": 0.8}' ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from partparse.io import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The model zoo (zoo:<name> in recipes).")
_err = Console(stderr=True)
# errors are InputErrors: the CLI's error boundary (partparse.cli) prints them in one line, exit 2


def _json_object(option: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise InputError(f"{option}: not JSON ({err})") from None
    if not isinstance(value, dict):
        raise InputError(f"{option}: expected a JSON object, got {type(value).__name__}")
    return value


@app.command("list")
def list_entries() -> None:
    """Every zoo entry with its task, size and validation metrics."""
    from partparse.model_zoo import registry

    entries = registry.load_manifest()
    table = Table("name", "task", "MB", "metrics (SynTPS bench val)")
    for name, e in entries.items():
        folder = registry.zoo_root() / e.folder
        size = sum((folder / f).stat().st_size for f in e.files if (folder / f).is_file())
        metrics = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in e.metrics.items())
        table.add_row(f"zoo:{name}", e.task, f"{size / 2**20:.2f}", metrics)
    Console().print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Entry name (with or without zoo:).")]) -> None:
    """One entry as JSON: files and sha256, data, rebuild commands, metrics, training."""
    from dataclasses import asdict

    from partparse.model_zoo.registry import ZOO_PREFIX, load_manifest

    key = name.removeprefix(ZOO_PREFIX)
    entries = load_manifest()
    if key not in entries:
        raise InputError(f"{ZOO_PREFIX}{key}: not in the model zoo (known: {', '.join(entries) or 'none'})")
    print(json.dumps(asdict(entries[key]), indent=2))


@app.command("verify")
def verify() -> None:
    """Check the sha256 of every file of every entry."""
    from partparse.model_zoo.registry import load_manifest, resolve

    for name in load_manifest():
        resolve(name)
        _err.print(f"ok  zoo:{name}")


@app.command("pack")
def pack(
    run: Annotated[Path, typer.Argument(help="Training work dir (best.pth, else latest.pth) or a .pth file.")],
    name: Annotated[str, typer.Option(help="Entry name, e.g. syntps/ir-csn.")],
    recipe: Annotated[str, typer.Option(help="The recipe file the run was trained with (repository path).")],
    data_command: Annotated[str, typer.Option(help="The command that makes its training data.")],
    metrics: Annotated[str, typer.Option(help="Validation metrics as a JSON object.")] = "{}",
    training: Annotated[str, typer.Option(
        help="Training facts as a JSON object (seconds, steps, threads, machine).")] = "{}",
    rebuild: Annotated[list[str] | None, typer.Option(help="Rebuild commands in order (repeat the option).")] = None,
    notes: Annotated[str, typer.Option(help="Free text: what the entry is for, caveats.")] = "",
    dtype: Annotated[str, typer.Option(help="float16 | float32 for the stored weights.")] = "float16",
    replace: Annotated[bool, typer.Option(help="Replace an existing entry of that name.")] = False,
    file: Annotated[bool, typer.Option(
        help="RUN is a plain data file (e.g. a class-prior JSON), not a model.")] = False,
    task: Annotated[str, typer.Option(help="With --file: what the file is (e.g. class_prior).")] = "data",
    class_prior: Annotated[bool, typer.Option(help="RUN is a ground-truth folder (gt_train): fit the class prior "
                                                   "on it and pack its table.")] = False,
) -> None:
    """Copy a finished run (model weights only, float16 by default) into the zoo and record it."""
    import tempfile

    from partparse.engine.zoo_pack import pack_file, pack_run

    facts = {"metrics": _json_object("--metrics", metrics), "training": _json_object("--training", training)}
    common = dict(recipe=recipe, data={"command": data_command}, rebuild=list(rebuild or []), notes=notes,
                  replace=replace, **facts)
    if class_prior:
        from partparse.io import write_json
        from partparse.pipeline.parse_recipe import load_class_prior

        prior = load_class_prior(run)                      # fitted on the GT folder, checked as every GT reader
        with tempfile.TemporaryDirectory(prefix="partparse-prior-") as tmp:
            table = write_json(Path(tmp) / "class_prior.json", prior.to_dict(), indent=1)
            entry = pack_file(table, name, task="class_prior", **common)
    elif file:
        entry = pack_file(run, name, task=task, **common)
    else:
        entry = pack_run(run, name, dtype=dtype, **common)
    _err.print(f"packed zoo:{entry.name} ({entry.task}): {', '.join(entry.files)}")
