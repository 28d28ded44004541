"""CSN training end to end on a tiny SynTPS dataset, through `partparse train`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.pipeline.score_fusion import load_scores

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "csn" / "ir_csn_26_syntps_cpu.yaml"


@pytest.fixture(scope="module")
def tiny_syntps(tmp_path_factory):
    root = tmp_path_factory.mktemp("syntps")
    generate_dataset(SynthConfig(videos=8, seed=3, actions=3, width=96, height=64, frames=24, val_fraction=0.25), root)
    return root


def _args(root: Path, work: Path, epochs: int) -> list[str]:
    sets = [f"data.root={root}", f"train.work_dir={work}", f"schedule.epochs={epochs}", "schedule.milestones=[1]",
            "train.max_iters_per_epoch=2", "train.batch_size=2", "train.val_batch_size=2", "train.num_workers=0",
            "train.val_interval=1", "clips.clip_len=4", "clips.frame_interval=2", "clips.num_test_clips=2",
            "clips.short_side=64", "clips.crop_size=48", "clips.test_crop_size=48", "schedule.warmup_iters=1"]
    return ["train", "--recipe", str(RECIPE), "--no-progress"] + [a for s in sets for a in ("--set", s)]


def test_train_writes_checkpoints_scores_and_resumes(tiny_syntps, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, _args(tiny_syntps, tmp_path, epochs=1))
    assert res.exit_code == 0, res.output
    spaces = json.loads((tmp_path / "label_spaces.json").read_text())
    assert set(spaces) == {"action", "head", "hand", "arm", "hip", "leg", "foot"}
    assert all("_" in name for name in spaces["hand"])               # <action>_Hand_<state>
    ids, scores, labels = load_scores(tmp_path / "val_scores.npz")
    assert len(ids) == 2 and scores["action"].shape == (2, len(spaces["action"]))
    np.testing.assert_allclose(scores["action"].sum(1), 1.0, rtol=1e-5)   # averaged softmax
    assert (tmp_path / "latest.pth").exists() and (tmp_path / "recipe.yaml").exists()
    res = runner.invoke(app, _args(tiny_syntps, tmp_path, epochs=2) + ["--resume"])
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any(e["event"] == "resume" and e["epoch"] == 1 for e in events)
    assert max(e["iteration"] for e in events) == 4


def test_train_reports_bad_recipe_in_one_line(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("task: video\nmodel:\n  depht: 26\n")
    res = CliRunner().invoke(app, ["train", "--recipe", str(bad)])
    assert res.exit_code == 2 and "r.yaml.model: unknown key 'depht'" in res.stderr
    res = CliRunner().invoke(app, ["train", "--recipe", str(RECIPE), "--set", f"data.root={tmp_path}"])
    assert res.exit_code == 2 and "no gt_train/ folder and no train_annotations/ tree" in res.stderr
