"""benchmarks/plot_learning_curve.py: reads a run's metrics.jsonl and writes the curve PNG."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "plot_learning_curve.py"


def _module():
    spec = importlib.util.spec_from_file_location("plot_learning_curve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_curve_png_from_metrics_jsonl(tmp_path):
    lines = [{"event": "train", "iteration": i, "loss": 1.0 / i} for i in range(10, 110, 10)]
    lines += [{"event": "val", "iteration": 50, "AP": 0.2, "AP50": 0.5},
              {"event": "resume", "iteration": 50},
              {"event": "val", "iteration": 100, "AP": 0.4, "AP50": 0.8}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    plot = _module()
    train, val = plot.read_events(tmp_path / "metrics.jsonl")
    assert len(train) == 10 and [v["iteration"] for v in val] == [50, 100]
    out = plot.plot_run(tmp_path, ["AP", "AP50"], tmp_path / "curve.png")
    with Image.open(out) as im:
        assert im.size[0] > 300 and im.size[1] > 300


def test_runs_overlaid_on_one_metric(tmp_path):
    for name, ap50 in (("guided", 0.8), ("unguided", 0.6)):
        run = tmp_path / name
        run.mkdir()
        (run / "metrics.jsonl").write_text(json.dumps({"event": "val", "iteration": 10, "AP50": ap50}) + "\n")
    out = _module().plot_runs([tmp_path / "guided", tmp_path / "unguided"], "AP50", tmp_path / "cmp.png")
    assert out.is_file() and out.stat().st_size > 1000
