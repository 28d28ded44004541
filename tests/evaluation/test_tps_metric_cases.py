"""Hand-built cases for every rule and quirk of the official Kinetics-TPS metric."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.evaluation.box_iou import iou_matrix, part_iou_pairs
from partparse.evaluation.tps_metric import area_under_curve, evaluate_tps
from partparse.io import InputError
from tests.oracle.tps_reference import reference_score, video_scores


def human(box, parts=None):
    return {"box": box, "parts": parts or {}}


def gt_part(box, verb="none"):
    return {"box": box, "verb": verb}


def pred_part(boxes, verbs):
    return {"box": boxes, "verb": verbs}


def test_iou_uses_inclusive_pixels_and_minus_one_for_disjoint():
    m = iou_matrix([[0, 0, 0, 0], [0, 0, 9, 9]], [[0, 0, 0, 0], [0, 0, 9, 4], [20, 20, 30, 30], [10, 0, 12, 9]])
    assert m[0, 0] == 1.0                      # a single pixel box overlaps itself fully
    assert m[1, 1] == 0.5                      # 50 of 100 pixels
    assert m[1, 2] == -1.0 and m[1, 3] == -1.0  # disjoint (touching at x=10 is still disjoint)
    assert part_iou_pairs(np.array([[0, 0, 9, 9]]), np.array([[0, 0, 9, 2]]))[0] == 0.3


def _one_video(gt_frames, pred_frames, action="a", pred_action="a"):
    return {"v": action}, {"v": gt_frames}, {"v": pred_action}, {"v": pred_frames}


def test_part_with_n_proposals_scores_one_over_n():
    g = {"img_00001.json": {"humans": [human([0, 0, 99, 99], {"head": gt_part([0, 0, 9, 9], "turn"),
                                                              "hip": gt_part([50, 50, 59, 59], "bend")})]}}
    p = {"img_00001.json": {"humans": [human([0, 0, 99, 99], {
        "head": pred_part([[0, 0, 9, 9], [0, 0, 9, 9]], ["none", "turn"]),   # 2nd proposal hits: 1/2
        "hip": pred_part([[50, 50, 59, 59]], ["none"])})]}}                   # wrong state: 0
    r = evaluate_tps(*_one_video(g, p))
    assert r.psc.tolist() == [0.25]
    assert r.score == reference_score(*_one_video(g, p))


def test_frame_counting_rules():
    full = {"humans": [human([0, 0, 9, 9], {"head": gt_part([0, 0, 9, 9])})]}
    g = {"img_00001.json": full,
         "img_00006.json": {"humans": []},                              # no GT humans: dropped
         "img_00011.json": full,                                        # missing in prediction: counts 0
         "img_00016.json": {"humans": [human([0, 0, 9, 9])]},           # humans without parts, predicted: dropped
         "img_00021.json": {"humans": [human([0, 0, 9, 9])]}}           # without parts, not predicted: counts 0
    perfect = {"humans": [human([0, 0, 9, 9], {"head": pred_part([[0, 0, 9, 9]], ["none"])})]}
    p = {"img_00001.json": perfect, "img_00006.json": perfect, "img_00016.json": perfect}
    r = evaluate_tps(*_one_video(g, p))
    assert r.psc.tolist() == [1 / 3]
    assert video_scores(*_one_video(g, p))[0][1] == r.psc[0]


def test_video_without_counted_frames_has_psc_one_and_wrong_action_scores_zero():
    g = {"img_00001.json": {"humans": []}}
    assert evaluate_tps(*_one_video(g, {})).psc.tolist() == [1.0]
    assert evaluate_tps(*_one_video(g, {})).score == pytest.approx(0.9999, abs=1e-12)
    assert evaluate_tps(*_one_video(g, {}, pred_action="b")).score == 0.0


def _quirk_case():
    """GT0 overlaps P0 (IoU 0.9) and P1 (0.6); GT1 overlaps P0 a little and is disjoint from P1."""
    g = {"img_00001.json": {"humans": [human([0, 0, 99, 99], {"head": gt_part([0, 0, 9, 9], "turn")}),
                                       human([0, 70, 99, 300], {"head": gt_part([0, 70, 9, 79], "turn")})]}}
    p = {"img_00001.json": {"humans": [human([0, 0, 99, 89], {"head": pred_part([[0, 0, 9, 9]], ["turn"])}),
                                       human([0, 0, 99, 59], {"head": pred_part([[0, 0, 9, 9]], ["none"])})]}}
    return _one_video(g, p)


def test_disjoint_pairs_take_part_in_the_official_assignment():
    case = _quirk_case()
    official = evaluate_tps(*case, matching="official")
    corrected = evaluate_tps(*case, matching="corrected")
    # official: the -1 of (GT1, P1) makes (GT0-P1, GT1-P0) the better total, so GT0 gets P1 (wrong state)
    assert official.psc.tolist() == [0.0]
    assert corrected.psc.tolist() == [0.5]
    assert official.score == reference_score(*case)
    assert corrected.score == reference_score(*case, corrected=True)


def test_square_matrix_compares_in_float32_padded_in_float64():
    # IoU 30/100 = float32(0.3) > 0.3 is False in float32 but True once padding makes the matrix float64
    g = {"img_00001.json": {"humans": [human([0, 0, 9, 9], {"head": gt_part([0, 0, 9, 2])})]}}
    one = {"img_00001.json": {"humans": [human([0, 0, 9, 2], {"head": pred_part([[0, 0, 9, 2]], ["none"])})]}}
    two = {"img_00001.json": {"humans": one["img_00001.json"]["humans"] + [human([50, 50, 60, 60])]}}
    r1 = evaluate_tps(*_one_video(g, one), human_iou=0.3)
    r2 = evaluate_tps(*_one_video(g, two), human_iou=0.3)
    assert r1.psc.tolist() == [0.0] and r2.psc.tolist() == [1.0]
    assert r1.score == reference_score(*_one_video(g, one), 0.3)
    assert r2.score == reference_score(*_one_video(g, two), 0.3)


def test_area_matches_the_step_loop_on_psc_at_exact_thresholds():
    psc = np.array([0.05, 0.25, 1 / 3, 0.5, 1.0, 0.0001, 0.9999])
    correct = np.array([True, True, True, False, True, True, True])
    expected = 0
    for k in range(1, 10000):
        expected += 1.0 / 10000 * (sum(1 for p, c in zip(psc, correct, strict=True) if p >= k / 10000 and c) / len(psc))
    assert area_under_curve(psc, correct) == expected


def test_missing_video_and_official_limits_are_clear_errors():
    with pytest.raises(InputError, match="gt_vid_result.json: no videos to score"):
        evaluate_tps({}, {}, {}, {})
    g = {"img_00001.json": {"humans": [human([0, 0, 9, 9], {"head": gt_part([0, 0, 9, 9])})]}}
    with pytest.raises(InputError, match=r"pred_part_result.json: submission lacks 1 of the 1 videos .*first: v"):
        evaluate_tps({"v": "a"}, {"v": g}, {"v": "a"}, {})
    many = {"img_00001.json": {"humans": [human([0, 0, 9, 9]) for _ in range(11)]}}
    with pytest.raises(InputError, match=r"video v / frame img_00001.json\]: 11 humans"):
        evaluate_tps(*_one_video(g, many))
    six = {"img_00001.json": {"humans": [human([0, 0, 9, 9], {"head": pred_part([[0, 0, 9, 9]] * 6, ["none"] * 6)})]}}
    with pytest.raises(InputError, match=r"part head\]: more than 5 proposals"):
        evaluate_tps(*_one_video(g, six))
