"""Our models behind the stage Protocols: exact agreement with the models' own inference paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from partparse.data.clip_sampling import ClipSampler
from partparse.data.video_dataset import VideoClipDataset
from partparse.data.video_transforms import EvalClipTransformConfig, build_eval_transform
from partparse.engine.video_task import predict_video_scores
from partparse.models.hrnet import estimate_poses
from partparse.pipeline.adapters import (
    HRNetPoseEstimator,
    PartDetectorConfig,
    PersonDetectorConfig,
    PoseEstimatorConfig,
    YOLOFPartDetector,
    YOLOFPersonDetector,
)
from partparse.pipeline.pose_guidance import crop_person, draw_keypoint_dots, keypoints_to_crop
from partparse.pipeline.stages import PartDetector, PersonDetector, PoseEstimator, VideoScorer
from partparse.pipeline.video_scorers import CSNVideoScorer, FusedVideoScorer
from tests.pipeline.parse_stubs import (
    TINY_VIDEO_NAMES,
    OneHotScorer,
    make_tiny_dataset,
    single_thread,
    tiny_csn,
    tiny_hrnet,
    tiny_scorer_config,
    tiny_yolof,
)

one_thread = pytest.fixture(autouse=True, scope="module")(single_thread)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 256, (3, 64, 96, 3), dtype=np.uint8)


def test_person_detector_filters_one_class_and_agrees_with_the_model(frames):
    model = tiny_yolof(2)
    detector = YOLOFPersonDetector(model, PersonDetectorConfig(score_thr=0.005, person_label=1, batch_size=2))
    assert isinstance(detector, PersonDetector)
    found = detector.detect(list(frames))
    assert len(found) == 3
    with torch.no_grad():
        raw = model([torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames])
    for det, r in zip(found, raw, strict=True):
        keep = (r["labels"] == 1) & (r["scores"] >= 0.005)
        order = torch.argsort(r["scores"][keep], descending=True, stable=True)
        np.testing.assert_allclose(det.scores, r["scores"][keep][order].numpy(), rtol=1e-5)
        np.testing.assert_allclose(det.boxes, r["boxes"][keep][order].numpy(), rtol=1e-4, atol=1e-3)
        assert len(det) > 0 and (det.scores >= 0.005).all() and (np.diff(det.scores) <= 0).all()
        assert (det.boxes >= 0).all() and (det.boxes[:, [0, 2]] <= 96).all() and (det.boxes[:, [1, 3]] <= 64).all()


def test_pose_estimator_batches_and_overrides_flip_test(frames):
    model = tiny_hrnet()
    boxes = np.array([[10, 5, 40, 60], [50, 0, 90, 63], [0, 0, 20, 30]], np.float32)
    one = HRNetPoseEstimator(model, PoseEstimatorConfig(batch_size=1))
    assert isinstance(one, PoseEstimator)
    kp1, sc1 = one.estimate(frames[0], boxes)
    kp3, sc3 = HRNetPoseEstimator(model, PoseEstimatorConfig(batch_size=3)).estimate(frames[0], boxes)
    ref_kp, ref_sc = estimate_poses(model, torch.from_numpy(frames[0]).permute(2, 0, 1).float() / 255,
                                    torch.from_numpy(boxes))
    assert kp1.shape == (3, 17, 2) and sc1.shape == (3, 17)
    # random heatmaps are flat: batch-size rounding moves a DARK-decoded peak by up to ~1e-3 pixel
    np.testing.assert_allclose(kp1, ref_kp.numpy(), atol=1e-2)
    np.testing.assert_allclose(kp3, kp1, atol=1e-2)
    np.testing.assert_allclose(sc1, ref_sc.numpy(), atol=1e-5)
    np.testing.assert_allclose(sc3, sc1, atol=1e-5)
    empty_kp, empty_sc = one.estimate(frames[0], np.zeros((0, 4)))
    assert empty_kp.shape == (0, 17, 2) and empty_sc.shape == (0, 17)
    HRNetPoseEstimator(model, PoseEstimatorConfig(flip_test=True))
    assert model.config.flip_test is True


class _FixedCropDetector(nn.Module):
    """Returns the same detections (crop pixels) for every crop and records its input images."""

    def __init__(self, boxes, scores, labels):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.out = {"boxes": torch.tensor(boxes, dtype=torch.float32), "scores": torch.tensor(scores),
                    "labels": torch.tensor(labels)}
        self.inputs: list[torch.Tensor] = []

    def forward(self, images):
        self.inputs += images
        return [{k: v.clone() for k, v in self.out.items()} for _ in images]


def test_part_detector_keeps_the_best_box_per_part_in_frame_pixels(frames):
    model = _FixedCropDetector([[1, 2, 5, 6], [2, 3, 8, 9], [0, 0, 4, 4], [3, 3, 200, 7]],
                               [0.3, 0.9, 0.5, 0.7], [0, 0, 4, 9])
    detector = YOLOFPartDetector(model, PartDetectorConfig(score_thr=0.4, crop_margin=0.0))
    assert isinstance(detector, PartDetector)
    boxes = np.array([[10, 20, 31, 51], [40, 0, 60, 30]], np.float32)  # continuous: inclusive x2 = 30, 59
    parts = detector.detect_parts(frames[0], boxes, None, None)
    assert [sorted(p.parts) for p in parts] == [["head", "left_hand", "right_foot"]] * 2
    head, score = parts[0].parts["head"]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(head, [12, 23, 18, 29])                 # crop (2, 3, 8, 9) + origin (10, 20)
    np.testing.assert_allclose(parts[0].parts["right_foot"][0], [13, 23, 30, 27])  # clipped to the crop
    np.testing.assert_allclose(parts[1].parts["left_hand"][0], [40, 0, 44, 4])


def test_part_detector_draws_keypoint_dots_only_with_keypoints(frames):
    model = _FixedCropDetector(np.zeros((0, 4)), [], [])
    detector = YOLOFPartDetector(model, PartDetectorConfig(crop_margin=0.15, keypoint_score_thr=0.5))
    box = np.array([[10, 5, 40, 60]], np.float32)
    kp = np.random.default_rng(1).uniform([12, 8], [38, 58], (1, 17, 2)).astype(np.float32)
    ks = np.ones((1, 17), np.float32)
    ks[0, 3] = 0.1
    detector.detect_parts(frames[0], box, None, None)
    detector.detect_parts(frames[0], box, kp, ks)
    plain, dotted = (np.round(x.permute(1, 2, 0).numpy() * 255).astype(np.uint8) for x in model.inputs)
    crop, window = crop_person(frames[0], (10, 5, 39, 59), 0.15)
    np.testing.assert_array_equal(plain, crop)
    np.testing.assert_array_equal(dotted, draw_keypoint_dots(crop, keypoints_to_crop(kp[0], window), ks[0], 0.5))
    assert (plain != dotted).any()


def test_part_detector_checks_its_class_names():
    with pytest.raises(ValueError, match="3 classes but 10 part names"):
        YOLOFPartDetector(tiny_yolof(3))


def test_a_random_part_detector_gives_at_most_one_box_per_part_inside_the_crop(frames):
    detector = YOLOFPartDetector(tiny_yolof(10), PartDetectorConfig(score_thr=0.0, crop_margin=0.15))
    (found,) = detector.detect_parts(frames[0], np.array([[20, 10, 50, 60]], np.float32), None, None)
    assert 0 < len(found.parts) <= 10
    for box, _ in found.parts.values():
        assert 15 <= box[0] <= box[2] <= 55 and 2 <= box[1] <= box[3] <= 64


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return sorted(make_tiny_dataset(tmp_path_factory.mktemp("syn")).rglob("*.mp4"))[0]


def test_csn_scorer_equals_validation_scoring(video):
    model = tiny_csn()
    cfg = tiny_scorer_config()
    scorer = CSNVideoScorer(model, TINY_VIDEO_NAMES, cfg)
    assert isinstance(scorer, VideoScorer)
    scores = scorer.score(str(video))
    dataset = VideoClipDataset([(video, {h: 0 for h in TINY_VIDEO_NAMES})],
                               ClipSampler(cfg.clip_len, cfg.frame_interval, cfg.num_clips, test_mode=True),
                               build_eval_transform(EvalClipTransformConfig(short_side=32, crop="center",
                                                                            crop_size=32)),
                               decode_short_side=32)
    _, ref, _ = predict_video_scores(model, DataLoader(dataset, batch_size=1), torch.device("cpu"))
    for head in TINY_VIDEO_NAMES:
        assert scores[head].shape == (3,)
        np.testing.assert_allclose(scores[head], ref[head][0], rtol=1e-5)
        assert scores[head].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no class names for head 'hand'"):
        CSNVideoScorer(model, {"action": TINY_VIDEO_NAMES["action"]}, cfg)


def test_fused_scorer_weights_heads_and_checks_names():
    a = OneHotScorer({"action": ["x", "y"], "hand": ["x_Hand_a", "x_Hand_b"]}, {"action": "x", "hand": "x_Hand_a"})
    b = OneHotScorer({"action": ["x", "y"]}, {"action": "y"})
    fused = FusedVideoScorer([a, b], {"action": [3.0, 1.0]})
    scores = fused.score("unused.mp4")
    np.testing.assert_allclose(scores["action"], [0.75, 0.25])
    np.testing.assert_allclose(scores["hand"], [1.0, 0.0])  # only the first model has a hand head
    np.testing.assert_allclose(FusedVideoScorer([a, b]).score("v")["action"], [0.5, 0.5])
    with pytest.raises(ValueError, match="names the classes of head 'action' differently"):
        FusedVideoScorer([a, OneHotScorer({"action": ["y", "x"]}, {"action": "y"})])
    with pytest.raises(ValueError, match="3 values for 2 scorers"):
        FusedVideoScorer([a, b], {"action": [1, 1, 1]})


def test_parse_time_window_follows_the_largest_kept_person_as_training_does():
    from partparse.data.person_window import person_window
    from partparse.pipeline.video_scorers import parse_time_window

    small, large = np.array([200, 100, 230, 160], np.float32), np.array([20, 40, 100, 220], np.float32)
    persons = [(np.stack([small, large]), np.array([0.99, 0.5], np.float32))] * 3   # the small one surer
    window = parse_time_window(persons, 320, 240, 1.2)
    assert window == person_window([b for b, _ in persons], None, 320, 240, 1.2)   # the training rule
    x0, y0, x1, y1 = window
    assert x0 <= 20 and x1 >= 100 and x1 - x0 == y1 - y0 == 216       # square around the 180 px tall person
    by_score = person_window([b for b, _ in persons], [s for _, s in persons], 320, 240, 1.2)
    assert by_score[2] - by_score[0] == 72 and by_score[0] > 100         # anchoring on scores: the small one
    assert parse_time_window([(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))], 320, 240, 1.2) is None


def test_fused_csn_scorers_share_one_decoding_and_score_as_if_each_decoded(video, monkeypatch):
    """An ensemble of CSNs cutting clips alike decodes the video once, with the scores of separate decoding."""
    import dataclasses

    from partparse.pipeline import video_scorers

    cfg = dataclasses.replace(tiny_scorer_config(), person_centred=True, modality="rgb_diff")  # as the zoo's
    a = CSNVideoScorer(tiny_csn(0), TINY_VIDEO_NAMES, cfg)
    b = CSNVideoScorer(tiny_csn(1), TINY_VIDEO_NAMES, dataclasses.replace(cfg, batch_size=2))  # same views
    c = CSNVideoScorer(tiny_csn(2), TINY_VIDEO_NAMES, dataclasses.replace(cfg, num_clips=3))   # other views
    assert a.clip_key == b.clip_key != c.clip_key
    persons = [(np.array([[10, 5, 60, 60]], np.float32), np.array([0.9], np.float32))] * 3
    separate = [s.score(str(video), persons) for s in (a, b, c)]
    opened = []
    real_reader = video_scorers.VideoReader
    monkeypatch.setattr(video_scorers, "VideoReader",
                        lambda *args, **kw: opened.append(args) or real_reader(*args, **kw))
    fused = FusedVideoScorer([a, b, c])
    shared = fused.scores_per_model(str(video), persons)
    assert len(opened) == 2                                          # a and b share one decoding
    for got, want in zip(shared, separate, strict=True):
        for head in TINY_VIDEO_NAMES:
            np.testing.assert_array_equal(got[head], want[head])
    mean = {h: np.mean([s[h] for s in separate], axis=0) for h in TINY_VIDEO_NAMES}
    for head, scores in fused.score(str(video), persons).items():
        np.testing.assert_allclose(scores, mean[head], rtol=1e-6)



def test_pose_batched_over_frames_equals_frame_by_frame(frames):
    """The parser hands pose a whole batch of keyframes: the crops of all frames go through the same
    forward passes, with the results of frame-by-frame calls (frames without persons included)."""
    from partparse.pipeline.stages import estimate_frames

    boxes = [np.array([[10, 5, 40, 60], [50, 0, 90, 63]], np.float32), np.zeros((0, 4), np.float32),
             np.array([[0, 0, 20, 30]], np.float32)]
    pose = HRNetPoseEstimator(tiny_hrnet(), PoseEstimatorConfig(batch_size=2))  # batches span frames
    batched = estimate_frames(pose, list(frames), boxes)
    assert [k.shape for k, _ in batched] == [(2, 17, 2), (0, 17, 2), (1, 17, 2)]
    for (kp, sc), frame, b in zip(batched, frames, boxes, strict=True):
        ref_kp, ref_sc = pose.estimate(frame, b)
        np.testing.assert_allclose(kp, ref_kp, atol=1e-2)   # flat random heatmaps: see the test above
        np.testing.assert_allclose(sc, ref_sc, atol=1e-5)
    assert len(estimate_frames(pose, list(frames[:2]), [np.zeros((0, 4))] * 2)) == 2
