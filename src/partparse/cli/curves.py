"""``partparse curves``: plot the learning curves of training runs into a PNG.

    partparse curves runs/ir_csn runs/ip_csn --metric top1_action --metric train_loss --out curves.png
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from partparse.io import InputError


def curves(
    runs: Annotated[list[str], typer.Argument(help="Training work dirs, their metrics.jsonl, or zoo:<name> entries.")],
    out: Annotated[Path, typer.Option(help="PNG to write.")],
    metric: Annotated[list[str] | None, typer.Option(
        help="Metric to plot (repeat); default: the runs' monitor-like ones.")] = None,
    label: Annotated[list[str] | None, typer.Option(
        help="Legend label per run (repeat, in order); default: folder names.")] = None,
    title: Annotated[str, typer.Option(help="Figure title.")] = "",
) -> None:
    """Validation metrics (and the training loss) against the training step, one panel per metric."""
    from partparse.viz.learning_curves import plot_learning_curves, read_curves

    # errors are InputErrors: the CLI's error boundary (partparse.cli) prints them in one line, exit 2
    labels = list(label or [])
    if labels and len(labels) != len(runs):
        raise InputError(f"--label given {len(labels)} times for {len(runs)} runs")
    names = labels or [r if r.startswith("zoo:") else (Path(r).name if Path(r).is_dir() else Path(r).parent.name)
                       for r in runs]
    metrics = list(metric or [])
    if not metrics:
        found = read_curves(runs[0])
        preferred = ("top1_action", "top1_mean", "AP", "AP50", "train_loss")
        metrics = [m for m in preferred if m in found] or sorted(found)[:3]
    png = plot_learning_curves(dict(zip(names, runs, strict=True)), metrics, out, title=title)
    Console(stderr=True).print(f"wrote {png}", markup=False, highlight=False, soft_wrap=True)
