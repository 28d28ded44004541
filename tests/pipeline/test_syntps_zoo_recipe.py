"""The built-in `syntps-zoo` parse recipe: every model from the zoo, from any folder, and the whole system
scored on SynTPS videos of a seed no zoo model saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.pipeline.parse_recipe import build_parser, load_parse_recipe, recipe_path

REPO = Path(__file__).resolve().parents[2]
#: 10 videos of an unseen seed, 5 of them parsed (the val split)
CHECK_SET = SynthConfig(videos=10, seed=515151, val_fraction=0.5)


def test_syntps_zoo_is_built_in_and_loads_every_model_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                     # no repository files needed
    cfg = load_parse_recipe("syntps-zoo")
    assert cfg.models.person == "zoo:syntps/persons" and len(cfg.models.video) == 2
    assert (REPO / "configs/parse/syntps_zoo.yaml").samefile(recipe_path("syntps-zoo"))
    parser = build_parser(cfg)
    assert parser.pose_estimator is not None and parser.part_detector is not None
    assert set(parser.video_scorer.class_names) == {"action", "head", "hand", "arm", "hip", "leg", "foot"}


@pytest.fixture(scope="module")
def check_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("check") / "data"
    generate_dataset(CHECK_SET, root, workers=1)
    return root


def test_the_whole_system_parses_and_scores_unseen_videos(check_set, tmp_path):
    root = check_set
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["parse", str(root / "val_videos"), "--recipe", "syntps-zoo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["evaluate", "--gt", str(root / "gt_val"), "--pred", str(out / "submission"),
                                   "--json"])
    assert res.exit_code == 0, res.output
    scores = json.loads(res.stdout)
    # floors far below the benchmark figures (docs/benchmarks.md), far above what an untrained system gets
    assert scores["video_accuracy"] >= 0.4 and scores["score"] >= 0.1, scores


def test_the_fused_pose_stream_scores_unseen_videos_with_tracks(check_set, tmp_path):
    """The issue-15 system: tracks, the pose stream's per-keyframe states fused with the video heads."""
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["parse", str(check_set / "val_videos"), "--recipe", "syntps-zoo", "--set",
                                   "parser.part_states=fused", "--out", str(out)])
    assert res.exit_code == 0, res.output
    video = json.loads(next((out / "videos").glob("*.json")).read_text())
    assert set(video["state_sources"].values()) == {"fused"}
    humans = [h for f in video["frames"].values() for h in f["humans"]]
    assert humans and all(isinstance(h["track_id"], int) and h["track_id"] >= 1 for h in humans)
    assert "track_id" not in (out / "submission" / "pred_part_result.json").read_text()   # format unchanged
    res = CliRunner().invoke(app, ["evaluate", "--gt", str(check_set / "gt_val"), "--pred", str(out / "submission"),
                                   "--json"])
    scores = json.loads(res.stdout)
    # floors far below the benchmark figures (docs/benchmarks.md), far above an untrained system
    assert scores["video_accuracy"] >= 0.6 and scores["score"] >= 0.3, scores


def test_action_weights_may_give_the_pose_stream_the_last_share(tmp_path, monkeypatch):
    """``partparse fuse ir.npz ip.npz pose.npz --recipe R`` writes three action weights: the CSNs' and the
    pose stream's share of the fused action."""
    from partparse.io import InputError

    monkeypatch.chdir(tmp_path)
    parser = build_parser(load_parse_recipe("syntps-zoo", ["models.fusion_weights={action: [1, 2, 3]}"]))
    assert parser.config.pose_action_weight == 0.5
    assert parser.video_scorer.weights["action"] == [1, 2]
    with pytest.raises(InputError, match="one more for models.pose_stream"):
        build_parser(load_parse_recipe("syntps-zoo", ["models.fusion_weights={action: [1, 2, 3, 4]}"]))
