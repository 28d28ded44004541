"""Validation reports every problem with its location."""

from __future__ import annotations

import math

from partparse.data.tps_validation import check_part_results, check_same_videos, check_video_results
from partparse.data.vocabulary import BODY_PARTS, Vocabulary


def _messages(problems):
    return [str(p) for p in problems]


def test_every_problem_is_reported_with_location():
    sub = {"v1": {"img_00001.json": {"humans": [
        {"box": [0, 0, math.nan, 5], "parts": {
            "head": {"box": [[0, 0, 1, 1]], "verb": ["none", "turn"]},
            "tail": {"box": [[-1, 0, 1, 1]], "verb": ["wag"]},
            "hip": {"box": [[0, 0, 1, 1]] * 6, "verb": ["none"] * 6}}},
        {"parts": {}},
    ] + [{"box": [0, 0, 1, 1], "parts": {}}] * 10}}}
    vocab = Vocabulary(actions=("a",), parts=BODY_PARTS, states=("none", "turn"))
    msgs = _messages(check_part_results(sub, "pred_part_result.json", submission=True, vocab=vocab))
    expected = [
        "[video v1 / frame img_00001.json]: error: 12 humans; the official evaluator allows at most 10",
        "[video v1 / frame img_00001.json / person 0]: error: box has NaN or infinite coordinates",
        "[video v1 / frame img_00001.json / person 0 / part head]: error: 1 boxes but 2 verbs",
        "[video v1 / frame img_00001.json / person 0 / part tail]: error: unknown part name 'tail'",
        "[video v1 / frame img_00001.json / person 0 / part tail]: error: proposal 0: box has negative",
        "[video v1 / frame img_00001.json / person 0 / part tail]: error: unknown part state 'wag'",
        "[video v1 / frame img_00001.json / person 0 / part hip]: error: 6 proposals",
        "[video v1 / frame img_00001.json / person 1]: error: missing key 'box'",
    ]
    for e in expected:
        assert any(e in m for m in msgs), (e, msgs)
    assert all(m.startswith("pred_part_result.json [") for m in msgs)


def test_proposal_scores_must_pair_with_the_proposals():
    """A 'score' list shorter than the proposals was accepted and the loader dropped the unpaired proposals."""
    def sub(scores):
        part = {"box": [[0, 0, 5, 5], [1, 1, 6, 6], [2, 2, 7, 7]], "verb": ["none"] * 3, "score": scores}
        return {"v1": {"img_00001.json": {"humans": [{"box": [0, 0, 50, 50], "parts": {"head": part}}]}}}

    assert _messages(check_part_results(sub([0.9, None, 0.1]), "p.json", submission=True)) == []
    for bad in ([0.9], [0.9, 0.5, "high"], 0.9):
        assert _messages(check_part_results(sub(bad), "p.json", submission=True)) == [
            f"p.json [video v1 / frame img_00001.json / person 0 / part head]: error: 'score' must be one number "
            f"per proposal (3), got {bad!r}"]


def test_ground_truth_and_video_results():
    gt = {"v": {"frame1": {"humans": [{"box": [0, 0, 5, 5], "parts": {"head": {"box": [0, 0, 1, 1]}}}]},
                "img_00006.json": []}}
    msgs = _messages(check_part_results(gt, "gt_part_result.json", submission=False))
    assert any("warning: frame key is not of the form img_NNNNN.json: 'frame1'" in m for m in msgs)
    assert any("part head]: error: missing key 'verb'" in m for m in msgs)
    assert any("frame img_00006.json]: error: frame must be an object with a 'humans' list" in m for m in msgs)
    vocab = Vocabulary(actions=("a",))
    assert _messages(check_video_results({"v": "b", "w": 3}, "gt_vid_result.json", vocab)) == [
        "gt_vid_result.json [video v]: error: unknown action class 'b'",
        "gt_vid_result.json [video w]: error: action must be a string, got 3"]
    assert _messages(check_video_results([], "x.json")) == [
        "x.json: error: expected an object {video_id: action_class}, got list"]


def test_video_sets():
    msgs = _messages(check_same_videos({"a": 1, "b": 2}, "gt_vid_result.json",
                                       {"b": 1, "c": 2}, "pred_vid_result.json"))
    assert msgs == ["pred_vid_result.json [video a]: error: video missing (it is in gt_vid_result.json)",
                    "pred_vid_result.json [video c]: warning: video not in gt_vid_result.json"]
