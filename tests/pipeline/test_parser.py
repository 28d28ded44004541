"""PartParser with stand-in stages: exact submissions and the effect of every ablation switch."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.data.tps_format import load_submission, submission_to_json, write_submission
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.experiments.oracle_submissions import video_oracle_submission
from partparse.pipeline.parser import STAGES, ParserConfig, PartParser
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.structures import frame_key
from tests.pipeline.parse_stubs import (
    FixedPersons,
    FixedPose,
    OneHotScorer,
    OracleStages,
    RecordingParts,
    all_ground_truth,
    make_tiny_dataset,
    oracle_scorer,
)

NO_POSE = ParserConfig(box_refinement=False, pose_guidance=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("syntps"))
    videos = {p.stem: p for p in sorted(root.rglob("*.mp4"))}
    return root, videos, *all_ground_truth(root)


def test_oracle_stages_give_the_video_oracle_score(dataset, tmp_path):
    """GT persons and parts, the true action and majority states: the parsed submission, written and read
    back, scores exactly what the video-level oracle (built from the GT dicts alone) scores."""
    _, videos, gt_vid, gt_part = dataset
    predictions = []
    for vid, path in videos.items():
        oracle = OracleStages(gt_part[vid])
        parser = PartParser(NO_POSE, oracle, part_detector=oracle, video_scorers=[oracle_scorer(gt_vid, gt_part, vid)])
        predictions.append(parser.parse_video(path))
        assert [f.key for f in predictions[-1].frames] == list(gt_part[vid])
        first_gt = next(iter(gt_part[vid].values()))["humans"]
        assert [list(p.box) for p in predictions[-1].frames[0].persons] == [h["box"] for h in first_gt]
    write_submission(predictions, tmp_path / "sub")
    pred_vid, pred_part = submission_to_json(load_submission(tmp_path / "sub").values())
    ours = TPSEvaluator(gt_vid, gt_part, pred_vid, pred_part).evaluate()
    expected = TPSEvaluator(gt_vid, gt_part, *video_oracle_submission(gt_vid, gt_part)).evaluate()
    assert ours.score == expected.score and 0.2 < ours.score
    np.testing.assert_array_equal(ours.psc, expected.psc)
    assert ours.video_accuracy == 1.0


def test_keyframes_are_every_kth_decoded_frame(dataset):
    _, videos, _, _ = dataset
    path = next(iter(videos.values()))
    parser = PartParser(ParserConfig(keyframe_step=3, box_refinement=False, pose_guidance=False, frame_batch_size=2),
                        FixedPersons([[1, 1, 9, 9]], [0.5]))
    done = []
    result = parser.parse(path, progress=lambda k, n: done.append((k, n)))
    assert [f.key for f in result.prediction.frames] == [frame_key(i) for i in range(0, 24, 3)]
    assert done == [(2, 8), (4, 8), (6, 8), (8, 8)]
    assert result.prediction.action == "unknown" and result.num_frames == 24
    assert set(result.timings) == {*STAGES, "total"} and min(result.timings.values()) >= 0
    assert result.timings["total"] >= sum(result.timings[s] for s in STAGES) - 1e-6


def _keypoints(inside, outside):
    kp = np.tile(np.asarray(inside, np.float32), (1, 17, 1))
    kp[0, 9] = outside  # left wrist stretched out of the box
    return kp


@pytest.mark.parametrize("refine", [True, False])
def test_box_refinement_grows_the_box_to_hold_the_keypoints(dataset, refine):
    _, videos, _, _ = dataset
    parts = RecordingParts()
    pose = FixedPose(_keypoints([30, 30], [60, 30]))
    cfg = ParserConfig(box_refinement=refine, refine_margin=0.05, pose_guidance=False)
    result = PartParser(cfg, FixedPersons([[20, 20, 40, 50]], [0.9]), pose, parts).parse(next(iter(videos.values())))
    person = result.prediction.frames[0].persons[0]
    # margin 0.05 x width 20 = 1 px right of the wrist: x2 = 61 continuous = 60 inclusive; y unchanged
    expected = [20, 20, 61, 50] if refine else [20, 20, 40, 50]
    np.testing.assert_allclose(parts.calls[0][0], [expected])
    assert person.box == (20, 20, expected[2] - 1, 49)
    np.testing.assert_allclose(pose.calls[0], [[20, 20, 40, 50]])  # pose sees the detected box
    assert person.keypoints[9][:2] == (60.0, 30.0)


def test_refined_boxes_stay_inside_the_frame(dataset):
    _, videos, _, _ = dataset
    parts = RecordingParts()
    pose = FixedPose(_keypoints([30, 30], [500, -40]))
    PartParser(ParserConfig(pose_guidance=False), FixedPersons([[20, 20, 40, 50]], [0.9]), pose, parts).parse(
        next(iter(videos.values())))
    np.testing.assert_allclose(parts.calls[0][0], [[20, 0, 96, 50]])  # frame is 96x64: x2 <= width


@pytest.mark.parametrize("guidance", [True, False])
def test_pose_guidance_switch_decides_what_the_part_detector_gets(dataset, guidance):
    _, videos, _, _ = dataset
    parts = RecordingParts()
    kp = _keypoints([30, 30], [35, 30])
    cfg = ParserConfig(box_refinement=False, pose_guidance=guidance)
    PartParser(cfg, FixedPersons([[20, 20, 40, 50]], [0.9]), FixedPose(kp), parts).parse(next(iter(videos.values())))
    _, keypoints, scores = parts.calls[0]
    if guidance:
        np.testing.assert_array_equal(keypoints, kp)
        assert scores.shape == (1, 17)
    else:
        assert keypoints is None and scores is None


def test_switches_that_need_keypoints_fail_without_a_pose_estimator(dataset):
    _, videos, _, _ = dataset
    parser = PartParser(ParserConfig(box_refinement=True), FixedPersons([[20, 20, 40, 50]], [0.9]))
    with pytest.raises(ValueError, match="need keypoints: give the parser a pose estimator"):
        parser.parse(next(iter(videos.values())))


def test_top_k_persons_keeps_the_best_scores_in_order(dataset):
    _, videos, _, _ = dataset
    rng = np.random.default_rng(0)
    scores = rng.permutation(12) / 12
    boxes = [[i, i, i + 10, i + 20] for i in range(12)]
    path = next(iter(videos.values()))
    for k in (10, 3):
        frame = PartParser(ParserConfig(top_k_persons=k, box_refinement=False, pose_guidance=False),
                           FixedPersons(boxes, scores)).parse_video(path).frames[0]
        assert [p.score for p in frame.persons] == pytest.approx(sorted(scores, reverse=True)[:k], abs=1e-4)
    with pytest.raises(ValueError, match="at most|1..10"):
        ParserConfig(top_k_persons=11)


def _states(result):
    return {name: props[0].state for name, props in result.prediction.frames[0].persons[0].parts.items()}


class _ThreeParts(RecordingParts):
    def detect_parts(self, frame, boxes, keypoints, keypoint_scores):
        dets = super().detect_parts(frame, boxes, keypoints, keypoint_scores)
        for d in dets:
            d.parts["left_hand"] = d.parts["left_foot"] = d.parts["head"]
        return dets


def test_part_states_come_from_heads_then_the_class_prior_then_missing(dataset):
    _, videos, _, _ = dataset
    path = next(iter(videos.values()))
    scorer = OneHotScorer({"action": ["clap", "wave"], "hand": ["clap_Hand_hold", "wave_Hand_swing"]},
                          {"action": "clap", "hand": "clap_Hand_hold"})
    prior = ClassPriorPartStates({"clap": {"head": "nod", "hand": "grab"}})
    persons = FixedPersons([[20, 20, 40, 50]], [0.9])

    def run(**kw):
        cfg = ParserConfig(box_refinement=False, pose_guidance=False, **kw)
        parser = PartParser(cfg, persons, part_detector=_ThreeParts(), video_scorers=[scorer], state_prior=prior)
        return parser.parse(path)

    r = run()
    assert r.prediction.action == "clap" and r.labels.action_score == 1.0
    assert _states(r) == {"head": "nod", "left_hand": "hold", "left_foot": "unknown"}
    assert r.labels.sources == {"head": "class_prior", "hand": "video", "arm": "missing", "hip": "missing",
                                "leg": "missing", "foot": "missing"}
    assert _states(run(part_states="class_prior")) == {"head": "nod", "left_hand": "grab", "left_foot": "unknown"}
    no_prior = PartParser(ParserConfig(box_refinement=False, pose_guidance=False, missing_state=None), persons,
                          part_detector=_ThreeParts(), video_scorers=[scorer]).parse(path)
    assert _states(no_prior) == {"left_hand": "hold"}  # parts with no state are left out
    with pytest.raises(ValueError, match="needs a state_prior"):
        PartParser(ParserConfig(part_states="class_prior"), persons)


def test_frames_without_persons_skip_pose_and_parts(dataset):
    _, videos, _, _ = dataset
    parts, pose = RecordingParts(), FixedPose(np.zeros((1, 17, 2)))
    parser = PartParser(ParserConfig(), FixedPersons(np.zeros((0, 4)), []), pose, parts)
    result = parser.parse(next(iter(videos.values())))
    assert all(f.persons == [] for f in result.prediction.frames) and len(result.prediction.frames) == 5
    assert parts.calls == [] and pose.calls == []


class _WholeFrame:
    """One person covering each decoded frame; records the frame sizes it was given."""

    def __init__(self):
        self.shapes = []

    def detect(self, frames):
        from partparse.pipeline.stages import PersonDetections

        self.shapes += [f.shape[:2] for f in frames]
        return [PersonDetections([[0, 0, f.shape[1], f.shape[0]]], [0.9]) for f in frames]


def test_large_frames_are_decoded_scaled_down_and_the_results_scaled_back(dataset):
    """The tiny videos are 96x64: decode_max_side=48 halves them; the person still covers the frame."""
    _, videos, _, _ = dataset
    path = next(iter(videos.values()))
    persons, parts = _WholeFrame(), RecordingParts()
    cfg = ParserConfig(box_refinement=False, pose_guidance=False, decode_max_side=48)
    small = PartParser(cfg, persons, part_detector=parts).parse(path)
    assert set(persons.shapes) == {(32, 48)} and (small.width, small.height) == (96, 64)
    person = small.prediction.frames[0].persons[0]
    assert person.box == (0, 0, 95, 63)                       # video pixels, inclusive
    assert person.parts["head"][0].box == (0, 0, 7, 7)        # the part detector's 4 px box, doubled
    full = _WholeFrame()
    PartParser(ParserConfig(box_refinement=False, pose_guidance=False), full).parse(path)
    assert set(full.shapes) == {(64, 96)}                     # the default (1920) leaves small videos alone
    with pytest.raises(ValueError, match="decode_max_side must be >= 32"):
        ParserConfig(decode_max_side=8)
