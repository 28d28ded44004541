"""Part boxes from keypoints: the rule's numbers on a hand-made skeleton, dropped parts, and the parser
with a keypoint-returning person detector, the rule and no video model (action and states "unknown")."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.cli.validate import validate_path
from partparse.data.tps_format import load_submission
from partparse.data.vocabulary import BODY_PARTS, Vocabulary
from partparse.pipeline.keypoint_parts import (
    STANDING_HEIGHT,
    KeypointPartDetector,
    KeypointPartsConfig,
    body_unit,
    person_part_boxes,
)
from partparse.pipeline.parse_output import read_parsed_video, write_parse_result, write_submission_from_videos
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.pipeline.stages import PartDetector, PersonDetections
from tests.pipeline.parse_stubs import make_tiny_dataset

# An upright person facing the camera at 100 pixels per body unit: every bone has its SynTPS length
# (torso 30 px, upper arm 17, forearm 14.5, thigh 23.5, shin 23.5); the person's left is the image's right.
STANDING = np.array([
    [100, 150], [102, 148], [98, 148], [105, 150], [95, 150],      # nose, eyes, ears
    [112, 170], [88, 170], [112, 187], [88, 187],                  # shoulders, elbows
    [112, 201.5], [88, 201.5], [106.5, 200], [93.5, 200],          # wrists, hips
    [106.5, 223.5], [93.5, 223.5], [106.5, 247], [93.5, 247],      # knees, ankles
], np.float32)
BOX = np.array([84, 140, 116, 252], np.float32)

# Worked out by hand from the rule (keypoint_parts docstring) with u = 100 px and BodyShape's radii.
EXPECTED = {
    "head": [95, 142.8, 105, 155.6],            # face centre (100, 149.2) +- (5, 6.4)
    "hip": [87, 193.5, 113, 206.5],             # both hips +- 6.5
    "left_arm": [108.6, 166.6, 115.4, 203.88],  # shoulder r 3.4, elbow r 3.06, wrist r 2.38
    "left_hand": [109.6, 199.1, 114.4, 210.68],  # wrist r 2.4, tip 7.5 px below (forearm direction) r 1.68
    "left_leg": [101.3, 206.5, 111.7, 250.2],   # thigh from 11.7 px below the hip r 5.2, knee r 4.42, ankle r 3.2
    "left_foot": [103.7, 244.2, 113.9136, 251.5936],  # toe 4.95 px at 1.2 rad outward (image right) r 2.8
    "right_foot": [86.0864, 244.2, 96.3, 251.5936],   # mirrored
}


def test_rule_boxes_on_a_hand_made_skeleton():
    assert body_unit(STANDING, np.ones(17, bool), BOX) == pytest.approx(100.0)
    parts = person_part_boxes(STANDING, np.full(17, 0.9), BOX)
    assert sorted(parts) == sorted(BODY_PARTS)
    for name, box in EXPECTED.items():
        np.testing.assert_allclose(parts[name][0], box, atol=1e-3, err_msg=name)
    np.testing.assert_allclose(parts["right_arm"][0], [84.6, 166.6, 91.4, 203.88], atol=1e-3)
    assert all(score == pytest.approx(0.9) for _, score in parts.values())


def test_parts_of_unsure_keypoints_are_left_out_and_scores_average_the_used_keypoints():
    scores = np.full(17, 0.8, np.float32)
    scores[9] = 0.1                                     # left wrist
    scores[15] = 0.5                                    # left ankle
    parts = person_part_boxes(STANDING, scores, BOX, KeypointPartsConfig(keypoint_score_thr=0.3))
    assert "left_arm" not in parts and "left_hand" not in parts
    assert {"right_arm", "right_hand", "left_foot", "left_leg"} <= set(parts)
    assert parts["left_foot"][1] == pytest.approx(0.5)                     # the ankle alone
    assert parts["left_leg"][1] == pytest.approx((0.8 + 0.8 + 0.5) / 3)    # hip, knee, ankle
    np.testing.assert_allclose(parts["hip"][0], EXPECTED["hip"], atol=1e-3)  # the scale did not change


def test_head_falls_back_to_the_shoulders_then_disappears():
    scores = np.ones(17, np.float32)
    scores[:5] = 0.0                                    # no face keypoint
    head = person_part_boxes(STANDING, scores, BOX)["head"]
    # neck (100, 170) + 0.099 u straight up (hips straight below), +- (5, 6.4); scored by the shoulders
    np.testing.assert_allclose(head[0], [95, 153.7, 105, 166.5], atol=1e-3)
    scores[5] = 0.0
    assert "head" not in person_part_boxes(STANDING, scores, BOX)


def test_scale_comes_from_the_box_without_a_confident_bone():
    scores = np.zeros(17, np.float32)
    scores[[0, 15, 16]] = 1.0                           # nose and ankles only: no bone
    assert body_unit(STANDING, scores >= 0.3, BOX) == pytest.approx(112 / STANDING_HEIGHT)
    parts = person_part_boxes(STANDING, scores, BOX)
    assert sorted(parts) == ["head", "left_foot", "right_foot"]
    u = 112 / STANDING_HEIGHT
    np.testing.assert_allclose(parts["head"][0], [100 - 0.05 * u, 150 - 0.064 * u, 100 + 0.05 * u, 150 + 0.064 * u],
                               atol=1e-3)
    # no hips: the foot's side is unknown, the toe points straight down
    foot = parts["left_foot"][0]
    assert foot[0] == pytest.approx(106.5 - 0.028 * u, abs=1e-3)
    assert foot[2] == pytest.approx(106.5 + 0.028 * u, abs=1e-3)


def test_detector_clips_to_the_frame_and_needs_keypoints():
    rule = KeypointPartDetector()
    assert isinstance(rule, PartDetector)
    frame = np.zeros((240, 110, 3), np.uint8)          # the first person's left hip reaches x = 113
    shift = np.array([90, 0], np.float32)               # the second person stands 3 px beyond the left edge
    found = rule.detect_parts(frame, np.stack([BOX, BOX - np.tile(shift, 2)]), np.stack([STANDING, STANDING - shift]),
                              np.ones((2, 17), np.float32))
    assert len(found) == 2
    np.testing.assert_allclose(found[0].parts["hip"][0], [87, 193.5, 110, 206.5], atol=1e-3)
    np.testing.assert_allclose(found[1].parts["hip"][0], [0, 193.5, 23, 206.5], atol=1e-3)
    np.testing.assert_allclose(found[1].parts["right_arm"][0], [0, 166.6, 1.4, 203.88], atol=1e-3)
    assert rule.detect_parts(frame, np.zeros((0, 4)), np.zeros((0, 17, 2)), np.zeros((0, 17))) == []
    with pytest.raises(ValueError, match="pose_guidance"):
        rule.detect_parts(frame, BOX[None], None, None)
    with pytest.raises(ValueError, match="keypoint_score_thr"):
        KeypointPartsConfig(keypoint_score_thr=1.5)


class KeypointPersons:
    """A person detector that also estimates pose: the hand-made skeleton, scaled into a small frame."""

    def __init__(self, scale: float = 0.25):
        self.keypoints = (STANDING - [60, 130]) * scale
        self.box = (BOX - [60, 130, 60, 130]) * scale
        self.calls = 0

    def detect(self, frames):
        self.calls += len(frames)
        return [PersonDetections(self.box[None], [0.9], self.keypoints[None], np.full((1, 17), 0.8)) for _ in frames]


def test_parser_with_keypoint_persons_and_the_rule_marks_action_and_states_unknown(tmp_path):
    video = sorted(make_tiny_dataset(tmp_path / "syn").rglob("*.mp4"))[0]   # 96x64, 24 frames
    persons = KeypointPersons()
    parser = PartParser(ParserConfig(box_refinement=False, pose_guidance=True), persons,
                        part_detector=KeypointPartDetector())
    result = parser.parse(video)
    assert persons.calls == 5 and result.timings["pose"] == 0.0   # the persons' own keypoints: no pose stage
    p = result.prediction
    assert p.action == "unknown" and result.labels.action_score is None
    assert set(result.labels.states.values()) == {"unknown"} and set(result.labels.sources.values()) == {"missing"}
    for frame in p.frames:
        (person,) = frame.persons
        assert sorted(person.parts) == sorted(BODY_PARTS)
        assert {props[0].state for props in person.parts.values()} == {"unknown"}
        # the hand-made hip box (87, 193.5, 113, 206.5), moved and scaled (u = 25 px), in inclusive corners
        assert person.parts["hip"][0].box == pytest.approx((6.75, 15.875, 12.25, 18.125), abs=0.006)
        assert person.parts["hip"][0].score == 0.8
    written = write_parse_result(result, video, tmp_path / "videos")
    prediction, facts = read_parsed_video(written)
    assert prediction == p and facts["action"] == "unknown" and facts["top5"] == {}
    assert facts["part_states"] == {c: "unknown" for c in ("head", "hand", "arm", "hip", "leg", "foot")}
    write_submission_from_videos([written], tmp_path / "sub")
    loaded = load_submission(tmp_path / "sub")[video.stem]
    assert loaded.action == "unknown" and [f.key for f in loaded.frames] == [f.key for f in p.frames]
    assert loaded.frames[0].persons[0].parts == p.frames[0].persons[0].parts
    # `partparse validate`: legal as is; "unknown" is outside a real vocabulary (an error there)
    assert validate_path(tmp_path / "sub") == []
    vocab = Vocabulary(actions=("clap",), parts=BODY_PARTS, states=("none", "clap"))
    problems = [str(q) for q in validate_path(tmp_path / "sub", vocab=vocab)]
    assert any("unknown action class 'unknown'" in q for q in problems)
    assert any("unknown part state 'unknown'" in q for q in problems)
