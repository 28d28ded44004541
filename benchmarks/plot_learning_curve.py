"""Plot a training run's learning curve (validation metrics against step) from its ``metrics.jsonl``.

    python benchmarks/plot_learning_curve.py RUN_DIR [--metrics AP AP50] [--out RUN_DIR/learning_curve.png]
    python benchmarks/plot_learning_curve.py RUN_A RUN_B ... --metrics AP50 --out compare.png   # runs overlaid

Top panel: the chosen validation metrics (x100) at each validated step; bottom panel: the training
loss (every logged step). Validation events are the ``{"event": "val", "iteration": ..., metric: ...}``
lines the trainer writes; a resumed run simply continues the curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on the training machines
import matplotlib.pyplot as plt  # noqa: E402


def read_events(metrics_file: Path) -> tuple[list[dict], list[dict]]:
    """``(train events, val events)`` of a ``metrics.jsonl``, in file order."""
    events = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    return [e for e in events if e.get("event") == "train"], [e for e in events if e.get("event") == "val"]


def plot_run(run: Path, metrics: list[str], out: Path, title: str | None = None) -> Path:
    train, val = read_events(run / "metrics.jsonl")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[2, 1])
    for name in metrics:
        points = [(e["iteration"], 100 * e[name]) for e in val if name in e]
        if points:
            xs, ys = zip(*points)
            top.plot(xs, ys, marker="o", label=f"{name} (last {ys[-1]:.1f}, best {max(ys):.1f})")
    top.set_ylabel("val metric x100")
    top.grid(alpha=0.3)
    top.legend(loc="lower right")
    top.set_title(title or run.name)
    if train:
        bottom.plot([e["iteration"] for e in train], [e["loss"] for e in train], lw=0.8, color="grey")
    bottom.set_ylabel("train loss")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_runs(runs: list[Path], metric: str, out: Path, title: str | None = None) -> Path:
    """One validation ``metric`` (x100) of several runs against step, overlaid (e.g. an ablation)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        points = [(e["iteration"], 100 * e[metric]) for e in read_events(run / "metrics.jsonl")[1] if metric in e]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=f"{run.name} (last {ys[-1]:.1f} at {xs[-1]})")
    ax.set_xlabel("step")
    ax.set_ylabel(f"val {metric} x100")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or metric)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="training work dir(s) (each holds metrics.jsonl)")
    parser.add_argument("--metrics", nargs="+", default=["AP", "AP50"], help="validation metrics to plot")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default RUN/learning_curve.png)")
    parser.add_argument("--title", default=None)
    args = parser.parse_args()
    if len(args.runs) == 1:
        print(plot_run(args.runs[0], args.metrics, args.out or args.runs[0] / "learning_curve.png", args.title))
    else:
        print(plot_runs(args.runs, args.metrics[0], args.out or Path("learning_curves.png"), args.title))


if __name__ == "__main__":
    main()
