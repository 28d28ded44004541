"""Learning curves of training runs: validation metrics against the training step, as a PNG.

Reads the ``metrics.jsonl`` a run writes (``{"event": "val", "iteration": ..., <metric>: ...}`` lines;
``train`` lines give the loss) and draws one panel per metric, one line per run. Used by
``partparse curves``, the demo and the docs; matplotlib's object API on an Agg canvas (no pyplot state).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from partparse.io import InputError, atomic_write
from partparse.model_zoo import is_zoo_name
from partparse.model_zoo import resolve as resolve_zoo


def read_curves(metrics_file: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{name: [(iteration, value), ...]}`` from a run's ``metrics.jsonl`` (a run dir, the file, or a
    model-zoo name whose entry keeps its run's curve): every numeric field of the
    ``val`` events, and ``loss`` of the ``train`` events (as ``train_loss``). After a ``resume`` event the
    points past its iteration are dropped: the run redid those steps from its checkpoint."""
    if is_zoo_name(metrics_file):
        metrics_file = resolve_zoo(str(metrics_file))
    path = Path(metrics_file)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: no metrics.jsonl (not a training run?)")
    curves: dict[str, list[tuple[int, float]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            event = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{n}: not a JSON line") from None
        if not isinstance(event, dict) or not isinstance(event.get("iteration"), int):
            continue
        if event.get("event") == "resume":  # the run went back to its last checkpoint: later points were redone
            curves = {k: [p for p in v if p[0] <= event["iteration"]] for k, v in curves.items()}
        elif event.get("event") == "val":
            for key, value in event.items():
                if key not in ("event", "epoch", "iteration", "time") and isinstance(value, (int, float)):
                    curves.setdefault(key, []).append((int(event["iteration"]), float(value)))
        elif event.get("event") == "train" and isinstance(event.get("loss"), (int, float)):
            curves.setdefault("train_loss", []).append((int(event["iteration"]), float(event["loss"])))
    return curves


def plot_learning_curves(runs: Mapping[str, str | Path], metrics: Sequence[str], out: str | Path,
                         title: str = "", reference: Mapping[str, float] | None = None) -> Path:
    """Draw ``metrics`` (one panel each) of every run (``{label: run dir or metrics.jsonl}``) into the PNG
    ``out``; ``reference`` draws a dashed horizontal line per metric (a target, or chance)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = {label: read_curves(path) for label, path in runs.items()}
    fig = Figure(figsize=(4.2 * len(metrics), 3.2), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        for label, curves in data.items():
            points = curves.get(metric, [])
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if len(points) < 30 else None,
                        markersize=3, label=label)
        if reference and metric in reference:
            ax.axhline(reference[metric], color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("training step")
        ax.set_title(metric, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write(out, lambda fh: fh.write(buf.getvalue()), mode="wb")
