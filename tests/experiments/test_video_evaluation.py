"""Video-level evaluation: action top-1 and per-part state accuracy from heads vs the class prior."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.experiments.video_evaluation import (
    ModelScores,
    evaluate_video_recognition,
    fuse_models,
    load_model_scores,
)
from partparse.io import InputError, write_json
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.score_fusion import save_scores


def _frames(state_of: dict[str, list[str]]) -> dict:
    """GT frames whose coarse parts have the given per-frame states (one person)."""
    n = len(next(iter(state_of.values())))
    return {f"img_{5 * k + 1:05d}.json": {"humans": [{"box": [0, 0, 9, 9], "parts": {
        part: {"box": [0, 0, 4, 4], "verb": states[k]} for part, states in state_of.items()}}]} for k in range(n)}


GT_VID = {"v1": "wave", "v2": "kick", "v3": "kick"}
GT_PART = {
    "v1": _frames({"right_hand": ["wave", "wave", "none"], "head": ["none"] * 3}),
    "v2": _frames({"right_hand": ["none"] * 3, "head": ["turn", "turn", "none"]}),
    "v3": _frames({"right_hand": ["fist", "fist", "fist"], "head": ["none"] * 3}),  # the hand disagrees with the prior
}
PRIOR = ClassPriorPartStates({"wave": {"hand": "wave", "head": "none"}, "kick": {"hand": "none", "head": "turn"}})
NAMES = {"action": ["kick", "wave"], "hand": ["kick_Hand_fist", "kick_Hand_none", "wave_Hand_wave"]}


def _model(action_rows, hand_rows, ids=("v1", "v2", "v3")) -> ModelScores:
    return ModelScores(list(ids), {"action": np.array(action_rows, float), "hand": np.array(hand_rows, float)}, NAMES)


def test_heads_prior_and_prior_with_true_action_are_counted_per_part():
    # actions: v1 right (wave), v2 right (kick), v3 wrong (wave); hand heads: fist for v3 (right), none for v2
    model = _model([[0.2, 0.8], [0.9, 0.1], [0.3, 0.7]], [[0, 0, 1], [0, 1, 0], [1, 0, 0]])
    r = evaluate_video_recognition(model, GT_VID, GT_PART, PRIOR, ["head", "hand"])
    assert r.action_top1 == pytest.approx(2 / 3)
    assert r.part_accuracy["heads"] == {"hand": 1.0}                        # no head -> no "heads" entry for head
    assert r.part_accuracy["prior"]["hand"] == pytest.approx(2 / 3)         # v3: prior(wave)=wave != fist
    assert r.part_accuracy["prior_gt_action"]["hand"] == pytest.approx(2 / 3)  # prior(kick)=none != fist
    assert r.part_accuracy["prior"]["head"] == 1.0   # v3: the wrong action (wave) still gives the right "none"
    assert r.part_accuracy["prior_gt_action"]["head"] == pytest.approx(2 / 3)  # prior(kick)=turn, v3 is none
    assert r.videos == {"head": 3, "hand": 3}
    assert r.mean_part_accuracy("heads") == 1.0


def test_fusion_averages_aligned_scores_with_weights():
    a = _model([[1, 0], [1, 0], [1, 0]], [[1, 0, 0]] * 3)
    b = _model([[0, 1], [0, 1], [0, 1]], [[0, 0, 1]] * 3, ids=("v3", "v2", "v1"))
    fused = fuse_models([a, b], {"action": [3, 1]})
    np.testing.assert_allclose(fused.scores["action"], [[0.75, 0.25]] * 3)
    np.testing.assert_allclose(fused.scores["hand"], [[0.5, 0, 0.5]] * 3)        # a head not named: equal weights
    assert evaluate_video_recognition(fused, GT_VID, GT_PART, PRIOR, ["hand"]).action_top1 == pytest.approx(2 / 3)
    with pytest.raises(InputError, match="v9"):
        a.aligned(["v9"])


def test_load_model_scores_reads_a_run_dir_and_checks_class_counts(tmp_path):
    save_scores(tmp_path / "val_scores.npz", ["v1", "v2"], {"action": np.eye(2)}, {"action": np.array([0, 1])})
    write_json(tmp_path / "label_spaces.json", {"action": ["kick", "wave"]})
    loaded = load_model_scores(tmp_path)
    assert loaded.video_ids == ["v1", "v2"] and loaded.class_names == {"action": ["kick", "wave"]}
    write_json(tmp_path / "label_spaces.json", {"action": ["kick"]})
    with pytest.raises(InputError, match="1 classes, the scores have 2"):
        load_model_scores(tmp_path)
