"""Class-prior baseline and the video-level state transfer, scored with the metric."""

from __future__ import annotations

import numpy as np

from partparse.data.part_labels import video_part_states
from partparse.evaluation.tps_metric import evaluate_tps
from partparse.experiments.oracle_submissions import oracle_box_submission
from partparse.pipeline.part_state_transfer import ClassPriorPartStates, apply_video_states
from tests.oracle.random_tps import random_ground_truth


def _frames(states_per_frame):
    return {f"img_{5 * i + 1:05d}.json": {"humans": [{"box": [0, 0, 50, 50], "parts": {
        name: {"box": [0, 0, 5, 5], "verb": s} for name, s in states.items()}}]}
        for i, states in enumerate(states_per_frame)}


def test_class_prior_counts_frames_per_action():
    gt_vid = {"a": "kick", "b": "kick", "c": "wave"}
    gt_part = {"a": _frames([{"left_leg": "kick", "right_leg": "none"}, {"left_leg": "kick"}]),
               "b": _frames([{"left_leg": "none", "head": "turn"}]),
               "c": _frames([{"left_hand": "wave", "right_hand": "wave", "head": "none"}])}
    prior = ClassPriorPartStates.fit(gt_vid, gt_part)
    assert prior.predict("kick") == {"leg": "kick", "head": "turn"}     # kick 2 vs none 2 -> alphabetical
    assert prior.predict("wave") == {"hand": "wave", "head": "none"}
    assert prior.predict("unseen") == {}


def test_apply_states_to_every_frame_and_proposal():
    frames = {"img_00001.json": {"humans": [{"box": [0, 0, 9, 9], "score": 0.9, "parts": {
        "left_hand": {"box": [[0, 0, 1, 1], [0, 0, 2, 2]], "verb": ["x", "y"]}, "hip": {"box": [[1, 1, 2, 2]]}}}]}}
    out = apply_video_states(frames, {"hand": "wave"}, default=None)
    human = out["img_00001.json"]["humans"][0]
    assert human["parts"] == {"left_hand": {"box": [[0, 0, 1, 1], [0, 0, 2, 2]], "verb": ["wave", "wave"]}}
    assert human["score"] == 0.9
    with_default = apply_video_states(frames, {"hand": "wave"})["img_00001.json"]["humans"][0]["parts"]
    assert with_default["hip"] == {"box": [[1, 1, 2, 2]], "verb": ["none"]}


def test_oracle_states_beat_or_match_the_class_prior():
    gv, gp = random_ground_truth(np.random.default_rng(5), n_videos=20, n_frames=5, empty_prob=0.0)
    prior = ClassPriorPartStates.fit(gv, gp)
    base = evaluate_tps(gv, gp, *oracle_box_submission(gv, gp, gv, {v: prior.predict(a) for v, a in gv.items()}))
    oracle = evaluate_tps(gv, gp, *oracle_box_submission(gv, gp, gv, {v: video_part_states(gp[v]) for v in gv}))
    assert oracle.mean_psc >= base.mean_psc and 0 < base.score < oracle.score <= 0.9999
