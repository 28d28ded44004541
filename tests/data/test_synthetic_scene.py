"""SynTPS building blocks: kinematics, action programmes, rendering, visibility, planning, config."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from partparse.data.synthetic.actions import ACTIONS, PART_STATES, Schedule, sample_schedule
from partparse.data.synthetic.annotate import annotate_frame
from partparse.data.synthetic.generator import SynthConfig, make_video_id, plan_videos
from partparse.data.synthetic.render import OCCLUDER_LABEL, person_label, render_frame
from partparse.data.synthetic.scene import Appearance, Camera, Occluder, Person, Scene
from partparse.data.synthetic.skeleton import BodyShape, forward_kinematics, neutral_track
from partparse.data.vocabulary import BODY_PARTS, coarse_part
from partparse.structures import COCO_KEYPOINTS

W, H, T = 160, 120, 3


def _still_scene(x: float = 80.0, occluders=()) -> Scene:
    """One person in the neutral pose, 90 px tall, feet at y = 110, on a flat grey world; static camera."""
    rng = np.random.default_rng(0)
    schedule = Schedule(neutral_track(T), np.full((T, 10), "none", dtype="<U8"))
    person = Person.build(schedule, BodyShape(), Appearance.sample(rng), 1, x, np.full(T, 110.0), np.full(T, 90.0))
    camera = Camera(np.tile([W / 2, H / 2], (T, 1)).astype(float), np.ones(T), np.zeros(T), W, H)
    texture = np.full((H, W, 3), 128, np.uint8)
    return Scene(W, H, T, texture, camera, [person], list(occluders))


def _annotate(scene: Scene, t: int = 0):
    frame = render_frame(scene, t)
    return frame, annotate_frame(scene, t, frame, [p.schedule.states[t] for p in scene.persons])


def test_neutral_pose_stands_on_the_ground_with_left_on_the_image_right_when_facing_the_camera():
    pts = forward_kinematics(neutral_track(1), BodyShape(), facing=1)
    kp = pts.keypoints[0]
    sole = max(kp[15, 1] + BodyShape().r_shin, pts.toe[0, :, 1].max() + BodyShape().r_foot)
    assert sole == pytest.approx(0.0)
    assert kp[0, 1] < kp[5, 1] < kp[11, 1] < kp[13, 1] < kp[15, 1] < 0       # nose above shoulders ... ankles
    left, right = COCO_KEYPOINTS.index("left_shoulder"), COCO_KEYPOINTS.index("right_shoulder")
    assert kp[left, 0] > kp[right, 0]
    back = forward_kinematics(neutral_track(1), BodyShape(), facing=-1).keypoints[0]
    assert back[left, 0] < back[right, 0]
    assert 0.9 < -(kp[0, 1] - BodyShape().head_ry) < 1.1                         # about one body unit tall


def test_every_action_uses_known_states_and_changes_state_within_a_video():
    assert len(ACTIONS) >= 8
    for coarse, states in PART_STATES.items():
        assert len(states) >= 3 and states[0] == "none", coarse
    for action in ACTIONS:
        sched = sample_schedule(action, np.random.default_rng(1), 90, 15)
        assert sched.pose.shape[0] == 90 and sched.states.shape == (90, 10)
        for j, part in enumerate(BODY_PARTS):
            assert set(sched.states[:, j]) <= set(PART_STATES[coarse_part(part)]), (action, part)
        assert any(len(set(sched.states[:, j])) > 1 for j in range(10)), action
        assert np.isfinite(sched.pose).all()


def test_states_are_shared_between_actions_so_they_are_not_the_action_renamed():
    users: dict[tuple[str, str], set[str]] = {}
    for action in ACTIONS:
        for seed in range(30):
            sched = sample_schedule(action, np.random.default_rng(seed), 64, 15)
            for j, part in enumerate(BODY_PARTS):
                for state in set(sched.states[:, j]) - {"none"}:
                    users.setdefault((coarse_part(part), state), set()).add(action)
    shared = [key for key, acts in users.items() if len(acts) >= 2]
    assert ("hand", "wave") in shared and ("leg", "bend") in shared and ("leg", "lift") in shared
    assert len(shared) >= 10


def test_majority_state_of_a_part_is_common_but_not_universal_across_videos():
    # In squats the arms are stretched, on the hips or hanging depending on the video: the arm's
    # video-level majority differs between videos, so a per-action constant cannot be right everywhere.
    majorities = Counter()
    for seed in range(40):
        sched = sample_schedule("squat", np.random.default_rng(seed), 64, 15)
        majorities[Counter(sched.states[::5, BODY_PARTS.index("left_arm")]).most_common(1)[0][0]] += 1
    assert len(majorities) >= 2 and majorities.most_common(1)[0][1] < 40


def test_unoccluded_person_has_all_parts_with_boxes_inside_its_box():
    frame, people = _annotate(_still_scene())
    assert len(people) == 1
    person = people[0].annotation
    assert list(person.parts) == list(BODY_PARTS)
    x1, y1, x2, y2 = person.box
    assert 0 <= x1 < x2 <= W - 1 and 0 <= y1 < y2 <= H - 1
    assert y2 - y1 + 1 == pytest.approx(90, abs=4)
    for part in person.parts.values():
        px1, py1, px2, py2 = part.box
        assert x1 <= px1 <= px2 <= x2 and y1 <= py1 <= py2 <= y2
    head = person.parts["head"].box
    labels = frame.labels
    assert (labels[head[1]:head[3] + 1, head[0]:head[2] + 1] == person_label(0, "head")).any()
    assert all(v == 2 for _, _, v in person.keypoints)


def test_occluder_covering_a_part_removes_it_and_hides_its_keypoints():
    _, people = _annotate(_still_scene())
    x1, y1, x2, y2 = people[0].annotation.parts["head"].box
    cover = Occluder("rect", np.tile([(x1 + x2) / 2, (y1 + y2) / 2], (T, 1)).astype(float),
                     (x2 - x1) / 2 + 3, (y2 - y1) / 2 + 3, np.array([200, 40, 40], np.float32))
    frame, people = _annotate(_still_scene(occluders=[cover]))
    person = people[0].annotation
    assert "head" not in person.parts
    assert set(person.parts) == set(BODY_PARTS) - {"head"}
    assert (frame.labels[y1:y2 + 1, x1:x2 + 1] == OCCLUDER_LABEL).all()
    nose, left_eye = person.keypoints[0], person.keypoints[1]
    assert nose[2] == 1 and left_eye[2] == 1                   # inside the frame but covered
    assert person.box[1] > y1                                  # the person box shrank to what is visible


def test_person_outside_the_frame_is_absent_and_one_half_out_is_clipped():
    _, people = _annotate(_still_scene(x=-200.0))
    assert people == []
    _, people = _annotate(_still_scene(x=2.0))
    assert len(people) == 1
    person = people[0].annotation
    assert person.box[0] == 0
    outside = [kp for kp in person.keypoints if kp[2] == 0]
    assert outside and all(kp[:2] == (0.0, 0.0) for kp in outside)


def test_plan_gives_kinetics_like_unique_ids_balanced_classes_and_a_stratified_split():
    cfg = SynthConfig(videos=30, seed=5, actions=5, val_fraction=0.2)
    plans = plan_videos(cfg)
    assert len({p.video_id for p in plans}) == 30
    assert all(len(p.video_id) == 25 for p in plans)
    assert Counter(p.action for p in plans) == Counter({a: 6 for a in cfg.action_names})
    val = [p for p in plans if p.split == "val"]
    assert len(val) == 6 and len({p.action for p in val}) == 5
    assert plans == plan_videos(cfg)
    assert make_video_id(5, 0) == plans[0].video_id != make_video_id(6, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 161}, "even"), ({"actions": 11}, "actions must be"), ({"val_fraction": 1.0}, "val_fraction"),
    ({"videos": 0}, "videos must be"), ({"frames": 0}, "frames must be"),
])
def test_config_rejects_bad_values_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SynthConfig(**kwargs)
