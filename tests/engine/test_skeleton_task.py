"""The ``skeleton`` training task: ``partparse train`` on SynTPS ground-truth keypoints, and the trained
model loaded back as the parser's pose stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.skeleton_dataset import read_tracks
from partparse.io import read_json
from partparse.pipeline.parse_recipe import load_pose_stream
from tests.pipeline.parse_stubs import make_tiny_dataset

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "skeleton" / "st_gcn_syntps_cpu.yaml"


@pytest.fixture(scope="module")
def syntps(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("syntps"))


def _train(root: Path, work: Path, *extra: str):
    sets = [f"data.train_roots=[{root}]", f"data.val_root={root}", "data.val_split=train", f"train.work_dir={work}",
            "schedule.epochs=2", "train.batch_size=2", "train.val_interval=1", "schedule.warmup_iters=0",
            "train.log_interval=1", *extra]
    return CliRunner().invoke(app, ["train", "--recipe", str(RECIPE), "--no-progress",
                                    *[a for s in sets for a in ("--set", s)]])


def test_trains_a_few_steps_and_loads_as_a_pose_stream(syntps, tmp_path):
    work = tmp_path / "run"
    result = _train(syntps, work)
    assert result.exit_code == 0, result.output
    spaces = read_json(work / "label_spaces.json")
    assert spaces["action"] == sorted(set(read_json(syntps / "gt_train" / "gt_vid_result.json").values()))
    assert {"head", "left_hand", "right_foot"} <= set(spaces)
    history = read_json(work / "val_history.json")
    assert len(history) == 2 and {"top1_action_track", "top1_action_video", "part_state_acc"} <= set(history[-1])
    losses = [r["loss"] for r in map(__import__("json").loads, (work / "metrics.jsonl").read_text().splitlines())
              if r.get("event") == "train"]
    assert losses and all(np.isfinite(losses))
    from partparse.pipeline.score_fusion import load_scores

    ids, scores, labels = load_scores(work / "val_scores.npz")       # the pose stream's file for partparse fuse
    assert set(scores) == {"action"} and scores["action"].shape == (len(ids), len(spaces["action"]))
    np.testing.assert_allclose(scores["action"].sum(1), 1, atol=1e-5)
    stream = load_pose_stream(str(work), torch.device("cpu"))
    tracks, _ = read_tracks(syntps, "val")
    track = tracks[0]
    k = [track.keypoints[i][None] if p else None for i, p in enumerate(track.present)]
    c = [(track.visibility[i][None] > 0).astype(np.float32) if p else None for i, p in enumerate(track.present)]
    ids = [np.array([7]) if p else np.zeros(0, np.int64) for p in track.present]
    scores = stream.score(k, c, [np.ones(len(i)) for i in ids], ids)
    assert scores.action.shape == (len(spaces["action"]),) and abs(float(scores.action.sum()) - 1) < 1e-5
    seen = int(np.flatnonzero(track.present)[0])
    assert set(scores.states[seen][0]) == set(spaces) - {"action"}
    assert scores.states[seen][0]["left_leg"].shape == (len(spaces["left_leg"]),)


def test_a_missing_training_root_is_one_line(tmp_path):
    result = _train(tmp_path / "nowhere", tmp_path / "run")
    assert result.exit_code == 2 and "nowhere" in result.output and "Traceback" not in result.output
