"""The official 5x5 grid reuses everything but the thresholding: every pair still equals the official loop."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.evaluation.tps_metric import GRID_IOUS, TPSEvaluator
from partparse.io import InputError, write_json
from tests.oracle.random_tps import noisy_submission, random_ground_truth
from tests.oracle.tps_reference import area, video_scores


def _case(seed: int):
    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, n_videos=5, n_frames=4, max_humans=4)
    pv, pp = noisy_submission(rng, gv, gp, false_positives=3, max_proposals=3, box_noise=8.0)
    return gv, gp, pv, pp


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("route", ["folders", "dicts"])
def test_every_grid_pair_equals_the_official_loop(tmp_path, seed, route):
    gv, gp, pv, pp = _case(seed)
    if route == "folders":
        for name, obj in (("gt/gt_vid_result.json", gv), ("gt/gt_part_result.json", gp),
                          ("pred/pred_vid_result.json", pv), ("pred/pred_part_result.json", pp)):
            write_json(tmp_path / name, obj)
        ev = TPSEvaluator.from_folders(tmp_path / "gt", tmp_path / "pred")
        assert ev.flat.gt_states is not None                   # (the table route)
    else:
        ev = TPSEvaluator(gv, gp, pv, pp)
    ev.evaluate(0.9, 0.001)                                      # a pair first: the grid reuses its sums
    grid = ev.grid()
    assert list(grid) == [(h, p) for h in GRID_IOUS for p in GRID_IOUS]
    scores = set()
    for (h, p), result in grid.items():
        ref = video_scores(gv, gp, pv, pp, h, p)
        assert result.psc.tolist() == [psc for _, psc, _ in ref], (h, p)        # bit for bit
        assert result.score == area(ref), (h, p)
        fresh = TPSEvaluator(gv, gp, pv, pp).evaluate(h, p)                     # nothing cached
        assert result.psc.tobytes() == fresh.psc.tobytes() and result.accuracy_at == fresh.accuracy_at
        scores.add(result.score)
    assert len(scores) > 5                                       # the thresholds matter in these cases


def test_a_grid_pair_fails_where_the_official_script_fails():
    """Predicted parts with 6 proposals in one frame: the official script asserts for the pairs whose human
    threshold matches one of those persons, and scores the others; so does the grid, pair by pair."""
    gv, gp, pv, pp = _case(3)
    vid = next(iter(gv))
    key = next(k for k, fr in gp[vid].items() if fr["humans"] and pp[vid].get(k, {}).get("humans"))
    for human in pp[vid][key]["humans"]:
        for part in human["parts"].values():
            if part["verb"]:
                part["box"], part["verb"] = [part["box"][0]] * 6, [part["verb"][0]] * 6
    ev = TPSEvaluator(gv, gp, pv, pp)
    outcomes = set()
    for h in GRID_IOUS:
        for p in GRID_IOUS:
            try:
                ref = [psc for _, psc, _ in video_scores(gv, gp, pv, pp, h, p)]
            except AssertionError:
                ref = "fails"
            try:
                ours = ev.evaluate(h, p).psc.tolist()
            except InputError as err:
                assert f"[video {vid} / frame {key} / person" in str(err) and "more than 5 proposals" in str(err)
                ours = "fails"
            assert ours == ref, (h, p)
            outcomes.add(ref == "fails")
    assert outcomes == {True, False}                             # some pairs fail, some score


@pytest.mark.parametrize("seed", [0, 1])
def test_part_scores_from_the_best_iou_equal_a_search_over_proposals(seed):
    """Each part threshold compares the best right-state IoU of a part; that equals asking whether some
    proposal has the right state and an IoU >= the threshold, NaN IoUs and odd thresholds included."""
    gv, gp, pv, pp = _case(seed)
    flat = TPSEvaluator(gv, gp, pv, pp).flat
    rng = np.random.default_rng(seed)
    iou = flat.prop_iou.copy()
    iou[rng.random(len(iou)) < 0.2] = np.nan
    flat.prop_iou = iou
    fixed = flat._threshold_free()
    assert np.isnan(iou).any() and flat.prop_state_ok.any() and not flat.prop_state_ok.all()
    for t in (-np.inf, -1.0, 0.0, 0.3, 0.5, 1.0, np.nan, np.inf):
        correct = np.zeros(len(fixed.value), dtype=bool)
        correct[flat.prop_part[(iou >= t) & flat.prop_state_ok]] = True
        np.testing.assert_array_equal(fixed.part_score(t), np.where(correct, fixed.value, 0.0), err_msg=str(t))
