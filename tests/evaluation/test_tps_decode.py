"""The msgspec reader of the part files builds the tables of a walk over the dicts, or hands the files
over to the general walk."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partparse.evaluation.folder_tables import read_submission_tables, read_tables
from partparse.evaluation.metric_tables import NotCanonical
from partparse.evaluation.part_file_decoder import decode_ground_truth, decode_submission
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import InputError, read_json, write_json
from tests.evaluation.same_tables import assert_same
from tests.oracle.random_tps import noisy_submission, random_ground_truth
from tests.oracle.tps_dict_tables import ground_truth_tables, submission_tables

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = {"compact": {"separators": (",", ":")}, "default": {}, "indented": {"indent": 1}}


def _case(seed: int, integer: bool = True):
    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, n_videos=5, n_frames=int(rng.integers(1, 4)), max_humans=int(rng.integers(1, 5)))
    pv, pp = noisy_submission(rng, gv, gp, integer=integer, false_positives=2, max_proposals=int(rng.integers(1, 6)))
    return gv, gp, pv, pp


def _reshape(part: dict, verb_first: bool, extras: bool) -> dict:
    """The same file with part keys in the other order and with keys the metric ignores."""
    out = {}
    for vid, frames in part.items():
        out[vid] = {}
        for key, frame in frames.items():
            humans = []
            for h in frame["humans"]:
                parts = {n: ({"verb": p["verb"], "box": p["box"]} if verb_first else dict(p))
                         for n, p in h["parts"].items()}
                if extras:
                    parts = {n: {**p, "name": n} for n, p in parts.items()}
                humans.append({"number": 3, "parts": parts, "box": h["box"]} if extras
                              else {"box": h["box"], "parts": parts})
            out[vid][key] = {"humans": humans, "image": key} if extras else {"humans": humans}
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), integer=st.booleans(), layout=st.sampled_from(sorted(LAYOUTS)),
       verb_first=st.booleans(), extras=st.booleans())
def test_decoded_tables_equal_the_dict_tables(seed, integer, layout, verb_first, extras):
    gv, gp, pv, pp = _case(seed, integer)
    for vid, part, decode, tables in ((gv, gp, decode_ground_truth, ground_truth_tables),
                                      (pv, pp, decode_submission, submission_tables)):
        text = json.dumps(_reshape(part, verb_first, extras), **LAYOUTS[layout]).encode()
        assert_same(decode(vid, text), tables(vid, json.loads(text)))


def test_repeated_keys_keep_the_last_value_at_the_first_place_as_json_does():
    part = ('{"box": [[1, 1, 9, 9], [2, 2, 8, 8]], "verb": ["a", "b"], "box": [[3, 3, 7, 7]], "verb": ["c"]}')
    human = ('{"box": [0, 0, 5, 5], "parts": {"head": %s, "hip": {"box": [], "verb": []}, "head": %s}, '
             '"box": [1, 1, 6, 6]}')
    frame = '{"humans": [%s], "humans": [%s, %s]}' % (  # noqa: UP031 (JSON braces: % keeps them plain)
        human % (part, part), human % (part, part), human % ("{}", part))
    frame = frame.replace('"head": {}', '"head": {"box": [[4, 4, 6, 6]], "verb": ["d"]}')
    text = ('{"v1": {"img_00001.json": %s, "img_00006.json": %s, "img_00001.json": %s}, "v2": {}, "v1": {}}'  # noqa: UP031
            % (frame, frame, frame)).encode()
    pv = {"v1": "jump", "v2": "jump"}
    assert_same(decode_submission(pv, text), submission_tables(pv, json.loads(text)))
    gt_text = text.replace(b'[[1, 1, 9, 9], [2, 2, 8, 8]]', b"[1, 1, 9, 9]").replace(b'["a", "b"]', b'"a"')
    gt_text = gt_text.replace(b"[[3, 3, 7, 7]]", b"[3, 3, 7, 7]").replace(b'["c"]', b'"c"')
    gt_text = gt_text.replace(b"[[4, 4, 6, 6]]", b"[4, 4, 6, 6]").replace(b'["d"]', b'"d"')
    gt_text = gt_text.replace(b'{"box": [], "verb": []}', b'{"box": [0, 0, 1, 1], "verb": "e"}')
    assert_same(decode_ground_truth(pv, gt_text), ground_truth_tables(pv, json.loads(gt_text)))


ODD_SUBMISSIONS = {     # what msgspec or the leaf readers refuse; the general walk scores it or reports it
    "NaN in an ignored key": (rb'"humans": \[', b'"n": NaN, "humans": ['),
    "a boolean coordinate": (rb'"box": \[\[\d+', b'"box": [[true'),
    "a coordinate json reads as inf": (rb'"box": \[\[\d+', b'"box": [[1e400'),
    "a human coordinate beyond 2**53": (rb'\{"box": \[\d+', b'{"box": [9007199254740993'),
    "a lone surrogate state": (rb'"verb": \["', b'"verb": ["\\ud800'),
    "a state that is a number": (rb'"verb": \[', b'"verb": [7, '),
    "invalid UTF-8 in an ignored key": (rb'"humans": \[', b'"n": "\xff", "humans": ['),
    "a byte order mark": (rb"^", b"\xef\xbb\xbf"),
}


@pytest.mark.parametrize("odd", sorted(ODD_SUBMISSIONS))
def test_what_the_decoder_refuses_is_scored_by_the_general_walk(tmp_path, odd):
    gv, gp, pv, pp = _case(3)
    text = json.dumps(pp).encode()
    pattern, replacement = ODD_SUBMISSIONS[odd]
    text = re.sub(pattern, replacement.replace(b"\\", b"\\\\"), text, count=1)
    with pytest.raises(NotCanonical):
        decode_submission(pv, text)
    write_json(tmp_path / "gt" / "gt_vid_result.json", gv)
    write_json(tmp_path / "gt" / "gt_part_result.json", gp)
    write_json(tmp_path / "pred" / "pred_vid_result.json", pv)
    (tmp_path / "pred" / "pred_part_result.json").write_bytes(text)
    with pytest.raises(NotCanonical):
        read_submission_tables(tmp_path / "pred")
    assert read_tables(tmp_path / "gt", tmp_path / "pred") is None
    assert _score(lambda: TPSEvaluator.from_folders(tmp_path / "gt", tmp_path / "pred")) == _score(
        lambda: TPSEvaluator(gv, gp, pv, read_json(tmp_path / "pred" / "pred_part_result.json")))


def _score(evaluator):
    """The evaluator's PSCs and score, or the name of the error it raises."""
    try:
        result = evaluator().evaluate()
    except (NotCanonical, InputError) as err:
        return type(err).__name__
    return result.psc.tobytes(), result.score


def test_a_gt_video_missing_from_the_part_file_is_not_canonical():
    gv, gp, _, _ = _case(4)
    text = json.dumps({v: f for v, f in gp.items() if v != next(iter(gv))}).encode()
    with pytest.raises(NotCanonical):
        decode_ground_truth(gv, text)


def test_read_tables_hands_over_empty_and_refused_files(tmp_path):
    gv, gp, pv, pp = _case(5)
    write_json(tmp_path / "gt" / "gt_vid_result.json", gv)
    write_json(tmp_path / "gt" / "gt_part_result.json", gp)
    write_json(tmp_path / "pred" / "pred_vid_result.json", pv)
    (tmp_path / "pred" / "pred_part_result.json").write_bytes(b"")
    assert read_tables(tmp_path / "gt", tmp_path / "pred") is None                  # malformed: general path
    numeric_state = json.dumps(pp).replace('"verb": [', '"verb": [7, ', 1)
    (tmp_path / "pred" / "pred_part_result.json").write_bytes(numeric_state.encode())
    assert read_tables(tmp_path / "gt", tmp_path / "pred") is None                  # a numeric state: general path
