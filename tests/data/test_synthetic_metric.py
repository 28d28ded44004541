"""SynTPS against the Kinetics-TPS metric: GT scores perfect, the class prior is a mid-range baseline and
the per-video oracle beats it (the part states are predictable, but not from the action alone)."""

from __future__ import annotations

import pytest

from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.evaluation.tps_metric import evaluate_tps
from partparse.experiments.oracle_submissions import class_prior_submission, video_oracle_submission
from partparse.io import read_json
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from tests.oracle.tps_reference import reference_score


def _reference(*args):
    return reference_score(*args)


def _official(*args):
    return evaluate_tps(*args).score


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    generate_dataset(SynthConfig(videos=30, seed=11, width=128, height=96, frames=40, val_fraction=0.2), root)
    gt = {s: (read_json(root / f"gt_{s}" / "gt_vid_result.json"), read_json(root / f"gt_{s}" / "gt_part_result.json"))
          for s in ("train", "val")}
    vid = {**gt["train"][0], **gt["val"][0]}
    part = {**gt["train"][1], **gt["val"][1]}
    return gt, vid, part


def _as_submission(part):
    return {v: {k: {"humans": [{"box": h["box"], "parts": {n: {"box": [p["box"]], "verb": [p["verb"]]}
                                                          for n, p in h["parts"].items()}} for h in f["humans"]]}
                for k, f in frames.items()} for v, frames in part.items()}


@pytest.mark.parametrize("score", [_reference, _official], ids=["reference", "evaluate_tps"])
def test_ground_truth_scores_perfect_and_baselines_bracket_the_task(calibration, score):
    gt, vid, part = calibration
    assert score(vid, part, vid, _as_submission(part)) == pytest.approx(0.9999)
    prior = ClassPriorPartStates.fit(*gt["train"])
    prior_score = score(vid, part, *class_prior_submission(vid, part, prior))
    oracle_score = score(vid, part, *video_oracle_submission(vid, part))
    assert 0.30 <= prior_score <= 0.80
    assert oracle_score >= prior_score + 0.05
