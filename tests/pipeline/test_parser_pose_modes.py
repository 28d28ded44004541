"""The parser's pose-stream modes: per-keyframe part states from each track, fused with the video heads,
the action from either stream or both; track ids in the prediction."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.data.vocabulary import BODY_PARTS, coarse_part
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.pipeline.pose_stream import PoseStreamScores, smooth_along_tracks
from tests.pipeline.parse_stubs import FixedPose, OracleStages, all_ground_truth, make_tiny_dataset, oracle_scorer

STATES = {"head": ["none", "nod"], "hip": ["none", "bend"], "arm": ["none", "raise"], "hand": ["none", "wave"],
          "leg": ["none", "kick"], "foot": ["none", "lift"]}


class StubStream:
    """A pose stream sure of one action and, per body part, of its second state ('nod', 'wave', ...) in
    every keyframe; records the track ids it was given."""

    def __init__(self, action: str, actions: list[str]):
        self.class_names = {"action": actions, **{p: STATES[coarse_part(p)] for p in BODY_PARTS}}
        self.action = action
        self.calls = []

    def score(self, keypoints, keypoint_scores, person_scores, track_ids):
        self.calls.append([np.array(i) for i in track_ids])
        a = np.zeros(len(self.class_names["action"]), np.float32)
        a[self.class_names["action"].index(self.action)] = 1
        states = [[{p: np.array([0.2, 0.8]) for p in BODY_PARTS} for _ in ids] for ids in track_ids]
        return PoseStreamScores(a, states)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("syntps"))
    videos = {p.stem: p for p in sorted(root.rglob("*.mp4"))}
    return root, videos, *all_ground_truth(root)


def _parse(dataset, stream_action: str | None = "other_action", **switches):
    _, videos, gt_vid, gt_part = dataset
    vid, path = next(iter(videos.items()))
    oracle = OracleStages(gt_part[vid])
    actions = sorted(set(gt_vid.values()) | {"other_action"})
    stream = StubStream(stream_action, actions) if stream_action else None
    cfg = ParserConfig(box_refinement=False, pose_guidance=False, **switches)
    parser = PartParser(cfg, oracle, FixedPose(np.zeros((10, 17, 2))), oracle, [oracle_scorer(gt_vid, gt_part, vid)],
                        pose_stream=stream)
    return parser.parse(path), gt_vid[vid], gt_part[vid], stream


def _verbs(result):
    return {(f.key, i, n): ps[0].state for f in result.prediction.frames for i, p in enumerate(f.persons)
            for n, ps in p.parts.items()}


def test_pose_mode_gives_each_part_the_stream_state_in_every_keyframe(dataset):
    result, _, gt_frames, stream = _parse(dataset, part_states="pose")
    verbs = _verbs(result)
    assert verbs and all(v == STATES[coarse_part(n)][1] for (_, _, n), v in verbs.items())
    assert set(result.labels.sources.values()) >= {"pose"}
    # the stream got the parser's track ids, and the prediction carries them
    persons = [p for f in result.prediction.frames for p in f.persons]
    assert all(p.track_id is not None and p.track_id >= 1 for p in persons)
    assert [list(i) for i in stream.calls[0]] == [[p.track_id for p in f.persons] for f in result.prediction.frames]


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_fused_states_weigh_the_stream_against_the_video_heads(dataset, weight):
    fused, *_ = _parse(dataset, part_states="fused", pose_state_weight=weight)
    reference, *_ = _parse(dataset, part_states="pose" if weight else "video")
    assert _verbs(fused) == _verbs(reference)


@pytest.mark.parametrize("source, expected", [("video", "truth"), ("pose", "other_action"),
                                              ("fused", "other_action")])
def test_the_action_comes_from_the_chosen_stream(dataset, source, expected):
    result, truth, *_ = _parse(dataset, part_states="video", action_source=source, pose_action_weight=0.75)
    assert result.prediction.action == (truth if expected == "truth" else expected)
    assert "pose_action" in result.video_scores


def test_video_mode_without_a_stream_still_tracks(dataset):
    result, *_ = _parse(dataset, stream_action=None)
    assert all(p.track_id is not None for f in result.prediction.frames for p in f.persons)


def test_pose_modes_need_a_pose_stream(dataset):
    with pytest.raises(ValueError, match="pose stream"):
        _parse(dataset, stream_action=None, part_states="fused")
    with pytest.raises(ValueError, match="part_states must be one of"):
        ParserConfig(part_states="majority")


def test_smoothing_along_a_track_votes_away_a_one_keyframe_flip():
    ids = [np.array([1, 2])] * 5
    values = [[{"hand": np.array([1.0, 0.0])}, {"hand": np.array([0.0, 1.0])}] for _ in range(5)]
    values[2][0] = {"hand": np.array([0.0, 1.0])}                  # track 1 flips in keyframe 2 only
    out = smooth_along_tracks(values, ids, 3)
    assert [int(np.argmax(f[0]["hand"])) for f in out] == [0, 0, 0, 0, 0]
    assert [int(np.argmax(f[1]["hand"])) for f in out] == [1] * 5  # the other track is untouched
    assert smooth_along_tracks(values, ids, 1) is values
