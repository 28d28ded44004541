"""``partparse fuse``: search ensemble fusion weights on validation scores and write them to a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.config import read_recipe_dict
from partparse.io import InputError, atomic_write
from partparse.pipeline.score_fusion import search_head_weights


def fuse(
    scores: Annotated[list[Path], typer.Argument(help="Validation score files (.npz), one per model, in the "
                                                      "order of the recipe's ensemble.")],
    recipe: Annotated[Optional[Path], typer.Option(help="Recipe YAML to update: its 'fusion' section gets "
                                                        "the weights (written atomically).")] = None,
    max_weight: Annotated[int, typer.Option(help="Weights searched: integers 0..max_weight.")] = 10,
) -> None:
    """Search per-model (and per-head) fusion weights that maximise validation top-1 accuracy."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if len(scores) < 2:
        console.print("[red]error:[/red] fuse needs the score files of at least two models")
        raise typer.Exit(2)
    try:
        found = search_head_weights(scores, grid=tuple(range(max_weight + 1)))
        if recipe is not None:
            _write_fusion(recipe, [str(s) for s in scores], found)
    except InputError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}")
        raise typer.Exit(2)
    table = Table(title="Fusion weights (validation top-1 accuracy, %)")
    table.add_column("head")
    table.add_column("weights")
    for i, s in enumerate(scores):
        table.add_column(escape(s.name), justify="right")
    table.add_column("fused", justify="right")
    for head, r in found.items():
        table.add_row(head, " / ".join(f"{w:g}" for w in r["weights"]), *[f"{100 * a:.1f}" for a in r["single"]],
                      f"{100 * r['fused']:.1f}")
    Console().print(table)


def _write_fusion(recipe: Path, files: list[str], found: dict) -> None:
    data = read_recipe_dict(recipe)
    data["fusion"] = {"score_files": files, "weights": {h: r["weights"] for h, r in found.items()}}
    text = yaml.safe_dump(data, sort_keys=False)
    atomic_write(recipe, lambda fh: fh.write(text))
