"""Table 1 rows: memoised stages compute shared work once, and the switches reach the parser."""

from __future__ import annotations

import time

import numpy as np
import pytest

from partparse.experiments.ablation import TABLE1, AblationRow, AblationStages, build_row_parser, run_ablation
from partparse.experiments.stage_cache import CachedPersonDetector, CachedVideoScorer, digest
from partparse.pipeline.parser import ParserConfig
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.stages import PartDetections
from tests.pipeline.parse_stubs import FixedPersons, FixedPose, OneHotScorer, all_ground_truth, make_tiny_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("abl") / "syn")


class CountingPersons(FixedPersons):
    def __init__(self, *a):
        super().__init__(*a)
        self.frames = 0

    def detect(self, frames):
        self.frames += len(frames)
        return super().detect(frames)


class Parts:
    """One head box per person; records whether keypoints came with the call."""

    def __init__(self):
        self.guided = []

    def detect_parts(self, frame, boxes, keypoints, keypoint_scores):
        self.guided.append(keypoints is not None)
        return [PartDetections({"head": (np.array([b[0], b[1], b[0] + 8, b[1] + 8], np.float32), 0.9)}) for b in boxes]


def test_digest_tells_arrays_apart_by_bytes_shape_and_dtype():
    a = np.zeros((2, 3), np.float32)
    assert digest(a) == digest(a.copy())
    assert digest(a) != digest(a.reshape(3, 2)) != digest(a.astype(np.float64))
    assert digest(a, None) != digest(a, "x")


def test_cached_person_detector_runs_each_frame_once():
    stage = CountingPersons([[0, 0, 10, 10]], [0.9])
    cached = CachedPersonDetector(stage)
    f1, f2 = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8, 3), np.uint8)
    first = cached.detect([f1, f2])
    again = cached.detect([f2.copy(), f1.copy()])
    assert stage.frames == 2 and cached.hits == 2
    np.testing.assert_array_equal(again[1].boxes, first[0].boxes)


def test_cached_video_scorer_keeps_class_names_and_scores_once():
    scorer = OneHotScorer({"action": ["a", "b"]}, {"action": "b"})
    cached = CachedVideoScorer(scorer)
    assert cached.class_names == scorer.class_names
    assert cached.score("v.mp4") is cached.score("v.mp4") and cached.hits == 1


def test_rows_switch_guidance_refinement_and_state_source(dataset):
    vid, part = all_ground_truth(dataset)
    prior = ClassPriorPartStates.fit(vid, part)
    action = sorted(set(vid.values()))[0]
    scorer = OneHotScorer({"action": sorted(set(vid.values())), "head": [f"{action}_Head_zzz"]},
                          {"action": action, "head": f"{action}_Head_zzz"})
    plain, guided = Parts(), Parts()
    stages = AblationStages(FixedPersons([[2, 2, 30, 40]], [0.9]), FixedPose(np.full((1, 17, 2), 10.0)),
                            plain, guided, [scorer], prior)
    video = next(dataset.glob("val_videos/*/*.mp4"))
    base = build_row_parser(TABLE1[0], stages, ParserConfig())
    baseline = base.parse(video)
    assert plain.guided and not any(plain.guided) and not guided.guided
    assert baseline.labels.states["head"] == prior.predict(action)["head"]
    video_states = build_row_parser(TABLE1[4], stages, base.config).parse(video)
    assert any(guided.guided) and video_states.labels.states["head"] == "zzz"


def test_run_ablation_scores_every_row_and_shares_stages(dataset):
    vid, part = all_ground_truth(dataset)
    persons = CountingPersons([[2, 2, 30, 40]], [0.9])
    rows = (AblationRow("a", False, False, False, "class_prior", False),
            AblationRow("b", True, True, True, "class_prior", False))
    stages = AblationStages(persons, FixedPose(np.full((1, 17, 2), 10.0)), Parts(), Parts(),
                            [OneHotScorer({"action": sorted(set(vid.values()))},
                                          {"action": sorted(set(vid.values()))[0]})],
                            ClassPriorPartStates.fit(vid, part))
    videos = sorted(dataset.glob("val_videos/*/*.mp4"))
    results = run_ablation(rows, stages, videos, dataset / "gt_val")
    assert [r.row.name for r in results] == ["a", "b"]
    keyframes = sum(len(r.frames) for r in results[0].predictions)
    assert persons.frames == keyframes                       # the second row reused every detection
    for r in results:
        assert 0.0 <= r.score <= 1.0 and 0.0 <= r.action_top1 <= 1.0 and len(r.predictions) == len(videos)
    # the second row reused the first row's stages: on its own it costs more than the time it added
    assert results[1].alone_seconds > results[1].seconds and results[0].alone_seconds >= results[0].seconds
    assert results[1].to_dict()["alone_seconds"] == results[1].alone_seconds


def test_rows_without_frozen_bn_use_the_models_fine_tuned_with_trained_bn(dataset):
    vid, part = all_ground_truth(dataset)
    actions = sorted(set(vid.values()))
    frozen = OneHotScorer({"action": actions}, {"action": actions[0]})
    trained = OneHotScorer({"action": actions}, {"action": actions[-1]})
    stages = AblationStages(FixedPersons([[2, 2, 30, 40]], [0.9]), FixedPose(np.full((1, 17, 2), 10.0)),
                            Parts(), Parts(), [frozen], ClassPriorPartStates.fit(vid, part), video_trained_bn=[trained])
    video = next(dataset.glob("val_videos/*/*.mp4"))
    assert not TABLE1[0].frozen_bn and all(r.frozen_bn for r in TABLE1[1:])
    assert build_row_parser(TABLE1[0], stages, ParserConfig()).parse(video).labels.action == actions[-1]
    assert build_row_parser(TABLE1[1], stages, ParserConfig()).parse(video).labels.action == actions[0]
    without = AblationStages(stages.person, stages.pose, stages.parts_plain, stages.parts_guided, [frozen],
                             stages.prior)
    assert build_row_parser(TABLE1[0], without, ParserConfig()).parse(video).labels.action == actions[0]


def test_cached_stages_count_what_their_hits_saved():
    class SlowPersons(CountingPersons):
        def detect(self, frames):
            time.sleep(0.02 * len(frames))
            return super().detect(frames)

    cached = CachedPersonDetector(SlowPersons([[0, 0, 10, 10]], [0.9]))
    f1, f2 = np.zeros((8, 8, 3), np.uint8), np.ones((8, 8, 3), np.uint8)
    cached.detect([f1, f2])
    assert cached.reused_seconds == 0.0
    cached.detect([f2, f1, f1])
    assert 0.055 <= cached.reused_seconds < 0.5                  # three hits of ~0.02 s each
    scorer = CachedVideoScorer(OneHotScorer({"action": ["a", "b"]}, {"action": "b"}))
    scorer.score("v.mp4")
    scorer.score("v.mp4")
    assert scorer.hits == 1 and scorer.reused_seconds == scorer.cost[("v.mp4", None)] >= 0.0
