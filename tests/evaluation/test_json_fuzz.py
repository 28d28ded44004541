"""Fuzz the readers of the Kinetics-TPS JSON files (issue 13): ground truth and submission, through the
library readers, `validate` and `evaluate`. Whatever the files hold (any JSON structure or value, a valid
file with one part replaced by anything, deep nesting, huge integers, bytes that are not JSON), the only
exception that may escape is InputError, and the commands exit 0 or 2."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from partparse.cli import app
from partparse.cli.validate import validate_path
from partparse.data.tps_format import load_ground_truth, load_submission
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import InputError

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SCALARS = (st.none() | st.booleans() | st.integers(-(10 ** 400), 10 ** 400) | st.integers(-5, 50)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
           | st.sampled_from(["none", "wave", "img_00001.json", "../x", "", "head"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.text(max_size=6) | st.sampled_from(["humans", "box", "parts", "verb", "head", "img_00001.json", "v1"]),
    inner, max_size=5), max_leaves=30)

GT_VID = {"v1": "jump", "v2": "wave"}
GT_PART = {v: {"img_00001.json": {"humans": [{"box": [0, 0, 20, 20], "parts": {
    "head": {"box": [0, 0, 5, 5], "verb": "none"}, "left_hand": {"box": [10, 10, 15, 15], "verb": "wave"}}}]},
    "img_00006.json": {"humans": []}} for v in GT_VID}
PRED_PART = {v: {"img_00001.json": {"humans": [{"box": [0, 0, 20, 21], "score": 0.9, "parts": {
    "head": {"box": [[0, 0, 5, 5], [1, 1, 4, 4]], "verb": ["none", "wave"]},
    "left_hand": {"box": [[10, 10, 15, 15]], "verb": ["wave"]}}}]}} for v in GT_VID}


def _paths(obj, prefix=()):
    """Every place in ``obj`` (dict keys and list indices), the root included."""
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield from _paths(v, prefix + (k,))


def _replace(obj, path, value):
    if not path:
        return value
    out = json.loads(json.dumps(obj))
    parent = out
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return out


@st.composite
def documents(draw, valid):
    """JSON text: a valid file with one place replaced by anything, anything at all, deep nesting, or bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "random", "deep", "bytes"]))
    if kind == "mutated":
        path = draw(st.sampled_from(list(_paths(valid))))
        return json.dumps(_replace(valid, path, draw(JSON))).encode()
    if kind == "random":
        return json.dumps(draw(JSON)).encode()
    if kind == "deep":
        depth = draw(st.sampled_from([900, 1100, 5000, 100_000]))
        return (draw(st.sampled_from(["[", '{"a":'])) * depth).encode() + b"1" + b"]" * depth
    return draw(st.binary(max_size=64))


def _folders(tmp: Path, gt_vid: bytes, gt_part: bytes, pred_vid: bytes, pred_part: bytes) -> tuple[Path, Path]:
    gt, pred = tmp / "gt", tmp / "pred"
    gt.mkdir()
    pred.mkdir()
    (gt / "gt_vid_result.json").write_bytes(gt_vid)
    (gt / "gt_part_result.json").write_bytes(gt_part)
    (pred / "pred_vid_result.json").write_bytes(pred_vid)
    (pred / "pred_part_result.json").write_bytes(pred_part)
    return gt, pred


def _only_input_errors(call):
    try:
        call()
    except InputError as err:
        assert "\n" not in str(err)


FILES = st.tuples(documents(GT_VID), documents(GT_PART), documents(GT_VID), documents(PRED_PART))
VALID = tuple(json.dumps(d).encode() for d in (GT_VID, GT_PART, GT_VID, PRED_PART))


@SETTINGS
@given(files=FILES, keep=st.lists(st.booleans(), min_size=4, max_size=4))
def test_library_readers_raise_only_input_errors(files, keep):
    files = [v if k else f for f, v, k in zip(files, VALID, keep, strict=True)]  # some files valid: errors reach deeper
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = _folders(Path(tmp), *files)
        _only_input_errors(lambda: load_ground_truth(gt))
        _only_input_errors(lambda: load_submission(pred))
        for folder in (gt, pred):
            _only_input_errors(lambda folder=folder: validate_path(folder))
        _only_input_errors(lambda: validate_path(pred, gt=gt))

        def score():                          # what `partparse evaluate` does
            ev = TPSEvaluator.from_folders(gt, pred, "official")
            ev.evaluate()
            ev.part_state_accuracy(0.5)

        _only_input_errors(score)


@settings(SETTINGS, max_examples=30)
@given(files=FILES, keep=st.lists(st.booleans(), min_size=4, max_size=4))
def test_evaluate_and_validate_exit_0_or_2_with_one_line(files, keep):
    files = [v if k else f for f, v, k in zip(files, VALID, keep, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = _folders(Path(tmp), *files)
        for args in (["evaluate", "--gt", str(gt), "--pred", str(pred), "--json"],
                     ["validate", str(pred), "--gt", str(gt)]):
            res = CliRunner().invoke(app, args)
            assert res.exit_code in (0, 2), (args, res.output, res.exception)
            assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
            if res.exit_code == 2 and args[0] == "evaluate":
                assert len(res.stderr.strip().splitlines()) == 1, res.stderr
