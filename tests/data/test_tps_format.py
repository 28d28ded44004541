"""Kinetics-TPS files: typed round trips, order preservation, atomic writes, clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from partparse.data.part_labels import majority_state, part_state_label, video_part_states
from partparse.data.tps_format import (
    GT_PART_FILE,
    GT_VID_FILE,
    ground_truth_from_json,
    ground_truth_to_json,
    load_annotation_tree,
    load_ground_truth,
    load_submission,
    read_frame_annotation,
    submission_from_json,
    submission_to_json,
    write_ground_truth,
    write_submission,
)
from partparse.data.vocabulary import BODY_PARTS, COARSE_PARTS, Vocabulary, coarse_part, read_name_list
from partparse.io import InputError, write_json
from partparse.structures import frame_index, frame_key
from tests.oracle.random_tps import noisy_submission, random_ground_truth


@pytest.fixture
def tps_dicts():
    rng = np.random.default_rng(7)
    gv, gp = random_ground_truth(rng, n_videos=5, n_frames=4)
    pv, pp = noisy_submission(rng, gv, gp)
    return gv, gp, pv, pp


def _floats(obj):
    """JSON numbers as floats (typed boxes are floats), everything else unchanged."""
    return json.loads(json.dumps(obj), parse_int=float)


def test_ground_truth_round_trip_keeps_every_value_and_order(tps_dicts, tmp_path):
    gv, gp, _, _ = tps_dicts
    videos = ground_truth_from_json(gv, gp)
    assert list(videos) == list(gv)
    assert [f.key for f in videos[next(iter(gv))].frames] == list(gp[next(iter(gv))])
    write_ground_truth(videos.values(), tmp_path)
    assert json.loads((tmp_path / GT_VID_FILE).read_text()) == gv
    assert _floats(json.loads((tmp_path / GT_PART_FILE).read_text())) == _floats(gp)
    again = load_ground_truth(tmp_path)
    assert ground_truth_to_json(again.values()) == ground_truth_to_json(videos.values())


def test_submission_round_trip(tps_dicts, tmp_path):
    _, _, pv, pp = tps_dicts
    preds = submission_from_json(pv, pp)
    write_submission(preds.values(), tmp_path)
    vid, part = submission_to_json(load_submission(tmp_path).values())
    assert vid == pv and _floats(part) == _floats(pp)


def test_frame_keys():
    assert frame_key(0) == "img_00001.json" and frame_index("img_00006.json") == 5
    with pytest.raises(ValueError, match="img_NNNNN.json"):
        frame_index("frame_1.json")


def test_loading_bad_folders_names_file_and_problem(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        load_ground_truth(tmp_path / "nope")
    (tmp_path / GT_VID_FILE).write_text('{"v": "a"')
    write_json(tmp_path / GT_PART_FILE, {})
    with pytest.raises(InputError, match=r"gt_vid_result.json: malformed JSON at line 1"):
        load_ground_truth(tmp_path)
    write_json(tmp_path / GT_VID_FILE, {"v": "a"})
    write_json(tmp_path / GT_PART_FILE, {"v": {"img_00001.json": {"humans": [{"box": [5, 5, 1, 1], "parts": {}}]}}})
    with pytest.raises(InputError, match=r"gt_part_result.json \[video v / frame img_00001.json / person 0\]: "
                                         r"error: box is inverted"):
        load_ground_truth(tmp_path)


def test_atomic_write_keeps_old_file_when_serialisation_fails(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_gives_new_files_the_umask_mode_and_keeps_an_existing_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "new.json", {})
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644   # not mkstemp's 0o600
        (tmp_path / "new.json").chmod(0o640)
        write_json(tmp_path / "new.json", {"again": 1})
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640   # the user's choice survives
    finally:
        os.umask(old)


def test_annotation_tree_and_frame_files(tmp_path):
    frame = {"humans": [{"box": [0, 0, 9, 9], "number": 1, "name": "person",
                         "parts": {"head": {"box": [0, 0, 3, 3], "verb": "none"}}}]}
    d = tmp_path / "lunge" / "abc_000001_000011" / "abc_000001_000011"
    d.mkdir(parents=True)
    write_json(d / "img_00001.json", frame)
    write_json(d / "img_00006.json", {"humans": []})
    videos = load_annotation_tree(tmp_path)
    v = videos["abc_000001_000011"]
    assert v.action == "lunge" and [f.index for f in v.frames] == [0, 5]
    assert v.frames[0].persons[0].parts["head"].state == "none"
    write_json(d / "img_00011.json", {"people": []})
    with pytest.raises(InputError, match=r"img_00011.json.*'humans' list"):
        read_frame_annotation(d / "img_00011.json")


def test_vocabulary_and_coarse_parts(tmp_path):
    assert Vocabulary.kinetics_tps().coarse_parts == ("head", "hip", "arm", "hand", "leg", "foot")
    assert set(coarse_part(p) for p in BODY_PARTS) == set(COARSE_PARTS)
    (tmp_path / "body_part.txt").write_text("0 head\n1 left_hand\n\n# comment\n2 right_hand\n")
    (tmp_path / "part_stat.txt").write_text("none\nwave\n")
    vocab = Vocabulary.from_list_dir(tmp_path)
    assert vocab.parts == ("head", "left_hand", "right_hand") and vocab.states == ("none", "wave")
    assert vocab.has_state("wave") and not vocab.has_state("kick")
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    with pytest.raises(InputError, match="missing.txt: file not found"):
        read_name_list(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="unknown action class 'fly'"):
        vocab.action_index("fly")


def test_video_part_state_labels_and_tie_rule():
    assert majority_state(["kick", "none", "kick"]) == "kick"
    assert majority_state(["wave", "none"]) == "none"          # tie: alphabetical
    assert majority_state([]) is None
    frames = {"img_00001.json": {"humans": [{"box": [0, 0, 1, 1], "parts": {
        "left_hand": {"box": [0, 0, 1, 1], "verb": "wave"}, "right_hand": {"box": [0, 0, 1, 1], "verb": "wave"},
        "head": {"box": [0, 0, 1, 1], "verb": "none"}}}]},
        "img_00006.json": {"humans": [{"box": [0, 0, 1, 1], "parts": {
            "left_hand": {"box": [0, 0, 1, 1], "verb": "none"}}}]}}
    assert video_part_states(frames) == {"hand": "wave", "head": "none"}
    assert part_state_label("lunge", "leg", "bend") == "lunge_Leg_bend"


def test_label_spaces_from_training_videos():
    from partparse.data.part_labels import LabelSpace, build_label_spaces, state_of_label, video_labels

    frames = {"img_00001.json": {"humans": [{"box": [0, 0, 1, 1], "parts": {
        "left_leg": {"box": [0, 0, 1, 1], "verb": "step_on"}, "head": {"box": [0, 0, 1, 1], "verb": "none"}}}]}}
    labels = video_labels("hopscotch", frames, ["head", "leg", "hand"])
    assert labels == {"action": "hopscotch", "head": "hopscotch_Head_none", "leg": "hopscotch_Leg_step_on",
                      "hand": "hopscotch_Hand_none"}
    assert state_of_label("hurling_(sport)_Leg_step_on") == "step_on"
    spaces = build_label_spaces({"v1": labels, "v2": {**labels, "action": "lunge", "leg": "lunge_Leg_bend"}},
                                ["head", "leg", "hand"])
    assert spaces["action"].names == ("hopscotch", "lunge")
    assert spaces["leg"].index("lunge_Leg_bend") == 1 and spaces["leg"].get("x") == -1
    assert list(spaces["action"]) == spaces["action"].to_list() == ["hopscotch", "lunge"]  # iterates its names
    with pytest.raises(KeyError, match="not in the training label space"):
        LabelSpace(["a"]).index("b")
