"""`evaluate` and `validate` on hostile and careless files (issue 13, items 2, 8, 11, 12, 13): every case
is one line naming the file and the place, exit code 2, never a traceback or a hang."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.io import write_json

runner = CliRunner()


def _gt(verb="none", vid="v1"):
    return ({vid: "jump"}, {vid: {"img_00001.json": {"humans": [
        {"box": [0, 0, 10, 10], "parts": {"head": {"box": [0, 0, 4, 4], "verb": verb},
                                          "left_hand": {"box": [5, 5, 9, 9], "verb": "wave"}}}]}}})


def _pred(verbs=("none",), vid="v1"):
    return ({vid: "jump"}, {vid: {"img_00001.json": {"humans": [
        {"box": [0, 0, 10, 10], "parts": {"head": {"box": [[0, 0, 4, 4]] * len(verbs), "verb": list(verbs)},
                                          "left_hand": {"box": [[5, 5, 9, 9]], "verb": ["wave"]}}}]}}})


def _write(folder, pair, submission):
    prefix = "pred" if submission else "gt"
    write_json(folder / f"{prefix}_vid_result.json", pair[0])
    write_json(folder / f"{prefix}_part_result.json", pair[1])
    return folder


def _one_line_error(res, *fragments):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def folders(tmp_path):
    return _write(tmp_path / "gt", _gt(), False), _write(tmp_path / "pred", _pred(), True)


def _evaluate(gt, pred, *extra):
    return runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(pred), "--json", *extra])


def test_a_perfect_submission_scores_and_the_fixture_is_sane(folders):
    res = _evaluate(*folders)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["mean_psc"] == 1.0 and out["part_state_accuracy"]["mean"] == 1.0


@pytest.mark.parametrize("flag", ["--human-iou", "--part-iou"])
@pytest.mark.parametrize("value", ["nan", "-5", "50", "0", "inf"])
def test_thresholds_outside_0_1_are_refused(folders, flag, value):
    _one_line_error(_evaluate(*folders, flag, value), f"{flag} must be in (0, 1]")


def test_threshold_1_is_allowed(folders):
    assert _evaluate(*folders, "--human-iou", "1").exit_code == 0


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_an_integer_beyond_the_float_range_in_a_box(folders, side):
    gt, pred = folders
    folder, name = (gt, "gt_part_result.json") if side == "gt" else (pred, "pred_part_result.json")
    text = (folder / name).read_text().replace("[0, 0, 4, 4]", "[0, 0, 1" + "0" * 400 + ", 4]", 1)
    (folder / name).write_text(text)
    line = _one_line_error(_evaluate(gt, pred), str(folder / name), "video v1 / frame img_00001.json / person 0",
                           "beyond the float range")
    assert "part head" in line
    res = runner.invoke(app, ["validate", str(pred), "--gt", str(gt)])
    assert res.exit_code == 2 and "beyond the float range" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_json_nested_100000_deep(folders, side):
    gt, pred = folders
    folder = gt if side == "gt" else pred
    (folder / f"{side}_part_result.json").write_text("[" * 100000 + "]" * 100000)
    _one_line_error(_evaluate(gt, pred), f"{side}_part_result.json: malformed JSON: nested too deeply")
    res = runner.invoke(app, ["validate", str(folder)])
    assert res.exit_code == 2 and "nested too deeply" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize("verbs", [[["none"]], [3, "none"], [{"a": 1}]])
def test_predicted_states_that_are_not_strings(folders, verbs):
    gt, pred = folders
    pv, pp = _pred()
    pp["v1"]["img_00001.json"]["humans"][0]["parts"]["head"] = {"box": [[0, 0, 4, 4]] * len(verbs), "verb": verbs}
    pp["v1"]["img_00001.json"]["humans"][0]["parts"]["left_hand"]["verb"] = [["wave"]]
    _write(pred, (pv, pp), True)
    _one_line_error(_evaluate(gt, pred), str(pred / "pred_part_result.json"),
                    "[video v1 / frame img_00001.json / person 0 / part", "must be a string")
    res = runner.invoke(app, ["validate", str(pred)])
    assert res.exit_code == 2 and "state ('verb') must be a string" in res.stderr


def test_a_state_that_is_a_number_is_named_where_the_part_state_accuracy_needs_strings(folders):
    gt, pred = folders
    _write(pred, _pred(verbs=(3,)), True)      # (the metric itself scores it as the official script does:
    _one_line_error(_evaluate(gt, pred),       # tests/evaluation/test_tps_tables.py)
                    "[video v1 / frame img_00001.json / person 0 / part head]", "must be a string", "got 3")


@pytest.mark.parametrize("verb", [["none"], 3, None])
def test_a_gt_state_that_is_not_a_string(folders, verb):
    gt, pred = folders
    _write(gt, _gt(verb=verb), False)
    res = _evaluate(gt, pred)
    if res.exit_code == 0:                     # hashable and orderable alone: scored like the official script
        assert verb is None or verb == 3
    else:
        _one_line_error(res, str(gt / "gt_part_result.json"), "video v1 / frame img_00001.json / person 0")
    _one_line_error(runner.invoke(app, ["validate", str(pred), "--gt", str(gt)]), str(gt / "gt_part_result.json"),
                    "[video v1 / frame img_00001.json / person 0 / part head]", "state ('verb') must be a string")


MALFORMED_PARTS = {
    "human without parts": lambda h: h.pop("parts"),
    "parts is a list": lambda h: h.update(parts=[1, 2]),
    "part is a string": lambda h: h["parts"].update(head="x"),
    "part without verb": lambda h: h["parts"]["head"].pop("verb"),
    "box is a string": lambda h: h["parts"]["head"].update(box="0 0 4 4"),
    "box of 3": lambda h: h["parts"]["head"].update(box=[0, 0, 4]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_PARTS))
@pytest.mark.parametrize("side", ["gt", "pred"])
def test_structural_errors_name_the_file_and_the_place(folders, case, side):
    gt, pred = folders
    pairs = {"gt": _gt(), "pred": _pred()}
    human = pairs[side][1]["v1"]["img_00001.json"]["humans"][0]
    if case.startswith("box") and side == "pred":
        human["parts"]["head"]["box"] = ["0 0 4 4"] if case == "box is a string" else [[0, 0, 4]]
    else:
        MALFORMED_PARTS[case](human)
    folder = _write(gt if side == "gt" else pred, pairs[side], side == "pred")
    line = _one_line_error(_evaluate(gt, pred), str(folder / f"{side}_part_result.json"),
                           "[video v1 / frame img_00001.json / person 0")
    assert "AttributeError" not in line and "KeyError" not in line


GT_VARIANTS = {
    "vid not an object": ([1, 2], None),
    "part not an object": (None, "x"),
    "frames a list": (None, {"v1": []}),
    "humans missing": (None, {"v1": {"img_00001.json": {}}}),
    "human a number": (None, {"v1": {"img_00001.json": {"humans": [7]}}}),
    "action a list": ({"v1": ["jump"]}, None),
    "verb a list": (None, _gt(verb=["none"])[1]),
    "video id a path": ({"../v1": "jump"}, {"../v1": _gt()[1]["v1"]}),
}


@pytest.mark.parametrize("case", sorted(GT_VARIANTS))
def test_validate_against_a_malformed_gt_is_one_line(folders, case):
    gt, pred = folders
    vid, part = GT_VARIANTS[case]
    gv, gp = _gt()
    write_json(gt / "gt_vid_result.json", gv if vid is None else vid)
    write_json(gt / "gt_part_result.json", gp if part is None else part)
    _one_line_error(runner.invoke(app, ["validate", str(pred), "--gt", str(gt)]), str(gt))


def test_validate_fails_a_folder_without_its_part_file(folders, tmp_path):
    _, pred = folders
    (pred / "pred_part_result.json").unlink()
    res = runner.invoke(app, ["validate", str(pred)])
    assert res.exit_code == 2 and f"{pred / 'pred_part_result.json'}: error: file missing" in res.stderr
    os.symlink(tmp_path / "nowhere.json", pred / "pred_part_result.json")            # dangling
    res = runner.invoke(app, ["validate", str(pred)])
    assert res.exit_code == 2 and "dangling symbolic link" in res.stderr
    (pred / "pred_part_result.json").unlink()
    os.symlink("loop.json", pred / "pred_part_result.json")
    os.symlink("pred_part_result.json", pred / "loop.json")                          # a loop
    res = runner.invoke(app, ["validate", str(pred)])
    assert res.exit_code == 2 and "pred_part_result.json: error: cannot read" in res.stderr


def test_validate_max_shown_must_not_be_negative(folders):
    _one_line_error(runner.invoke(app, ["validate", str(folders[1]), "--max-shown", "-1"]), "--max-shown must be >= 0")
    assert runner.invoke(app, ["validate", str(folders[1]), "--max-shown", "0"]).exit_code == 0


def test_validate_vocab_takes_the_actions_of_action_txt(folders, tmp_path):
    _, pred = folders
    lists = tmp_path / "syn" / "list"
    lists.mkdir(parents=True)
    (lists / "body_part.txt").write_text("head\nleft_hand\n")
    (lists / "part_stat.txt").write_text("none\nwave\n")
    (lists / "action.txt").write_text("jump\nsquat\n")
    for vocab in (lists, lists.parent):                          # the list/ folder or the dataset root
        res = runner.invoke(app, ["validate", str(pred), "--vocab", str(vocab)])
        assert res.exit_code == 0, res.output
    (lists / "action.txt").write_text("squat\n")
    res = runner.invoke(app, ["validate", str(pred), "--vocab", str(lists)])
    assert res.exit_code == 2 and "unknown action class 'jump'" in res.stderr


def test_validate_vocab_with_a_list_that_is_not_utf8(folders, tmp_path):
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "body_part.txt").write_bytes(b"head\nleft_hand\nr\xffght\n")
    _one_line_error(runner.invoke(app, ["validate", str(folders[1]), "--vocab", str(tmp_path / "list")]),
                    f"{tmp_path / 'list' / 'body_part.txt'}: line 3: not UTF-8")


@pytest.mark.parametrize("bad_id", ["../escape", "/abs/path", "a/b", "..", "", "x\ny", "x" * 300])
def test_video_ids_that_are_not_plain_file_names_are_reported(folders, bad_id):
    gt, pred = folders
    _write(gt, _gt(vid=bad_id), False)
    res = runner.invoke(app, ["validate", str(gt)])
    assert res.exit_code == 2 and "video id" in res.stderr, res.output


def test_a_fifo_as_a_result_file_is_refused_not_read(folders):
    gt, pred = folders
    for name in ("pred_part_result.json", "pred_vid_result.json"):
        saved = (pred / name).read_bytes()
        (pred / name).unlink()
        os.mkfifo(pred / name)
        _one_line_error(_evaluate(gt, pred), str(pred / name), "not a regular file")
        res = runner.invoke(app, ["validate", str(pred)])
        assert res.exit_code == 2 and "not a regular file" in res.stderr
        (pred / name).unlink()
        (pred / name).write_bytes(saved)


@pytest.mark.parametrize("side", ["gt", "pred"])
def test_a_nan_human_box_names_its_place(folders, side):
    gt, pred = folders
    folder = gt if side == "gt" else pred
    name = f"{side}_part_result.json"
    (folder / name).write_text((folder / name).read_text().replace('"box": [0, 0, 10, 10]', '"box": [0, NaN, 10, 10]'))
    _one_line_error(_evaluate(gt, pred),
                    f"{folder / name} [video v1 / frame img_00001.json / person 0]: a human box has NaN")


def test_limits_of_the_official_evaluator_name_the_submission_file(folders):
    gt, pred = folders
    _write(pred, _pred(verbs=("none",) * 6), True)
    _one_line_error(_evaluate(gt, pred), f"{pred / 'pred_part_result.json'} [video v1 / frame img_00001.json / "
                                         "person 0 / part head]: more than 5 proposals")


def test_names_with_line_breaks_stay_on_one_line(folders):
    gt, pred = folders
    gv, gp = _gt(vid="v\n1")
    gp["v\n1"]["img\r\n.json"] = {"humans": "x"}
    _write(gt, (gv, gp), False)
    res = runner.invoke(app, ["validate", str(gt)])
    assert res.exit_code == 2
    problems = [line for line in res.stderr.splitlines() if ": error: " in line]
    assert problems and all("[video 'v\\n1'" in line for line in problems), res.stderr
    assert "frame 'img\\r\\n.json'" in res.stderr


def test_evaluate_errors_quoting_a_name_with_a_line_break_stay_on_one_line(folders):
    gt, pred = folders
    _write(gt, _gt(vid="v\n1"), False)
    _one_line_error(_evaluate(gt, pred), "lacks 1 of the 1 videos", "(first: v\\n1)")
