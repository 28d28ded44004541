"""Each human's ``parts`` object read by array operations (:mod:`part_objects`) gives the tables of a walk
over ``json.loads``'s dicts; chunks off the official form are read by msgspec, and give them too. The
submission's proposals come in pieces, and the join of the pieces equals the join of the whole."""

from __future__ import annotations

import dataclasses
import json
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partparse.evaluation import part_objects
from partparse.evaluation.metric_tables import NotCanonical, SubmissionProposals
from partparse.evaluation.part_file_decoder import decode_ground_truth, decode_submission, decode_submission_stages
from partparse.evaluation.part_objects import PartObjects
from partparse.evaluation.table_join import ProposalJoin, join_humans, join_tables
from tests.evaluation.same_tables import assert_same
from tests.oracle.random_tps import noisy_submission, random_ground_truth
from tests.oracle.tps_dict_tables import ground_truth_tables, submission_tables

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = {"default": {}, "compact": {"separators": (",", ":")}, "indented": {"indent": 2}}


def _case(seed: int, n_videos: int = 6):
    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, n_videos=n_videos, n_frames=3, max_humans=4)
    pv, pp = noisy_submission(rng, gv, gp, false_positives=2, max_proposals=int(rng.integers(1, 6)))
    return gv, gp, pv, pp


def _both(gv, gp, pv, pp, layout="default"):
    """Decoded tables and the dict walk's, for the GT and the submission."""
    out = []
    for vid, part, decode, oracle in ((gv, gp, decode_ground_truth, ground_truth_tables),
                                      (pv, pp, decode_submission, submission_tables)):
        text = json.dumps(part, **LAYOUTS[layout]).encode() if not isinstance(part, bytes) else part
        out.append((decode(vid, text), oracle(vid, json.loads(text))))
    return out


def _fallbacks(texts: list[bytes], nested: bool) -> int:
    """How many times msgspec had to read a chunk of ``texts`` (parts objects), for its names or leaves."""
    with mock.patch.object(part_objects, "_decode", wraps=part_objects._decode) as decode:
        objects = PartObjects(texts, nested)
        objects.names()
        objects.leaves()
    return decode.call_count


def _parts_texts(part: dict) -> list[bytes]:
    return [json.dumps(h["parts"]).encode() for frames in part.values() for f in frames.values() for h in f["humans"]]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("chunk", [1, 100, 1 << 18])
def test_canonical_files_are_read_by_arrays_and_equal_the_dict_walk(layout, chunk):
    gv, gp, pv, pp = _case(11)
    with mock.patch.object(part_objects, "CHUNK_BYTES", chunk):
        for decoded, oracle in _both(gv, gp, pv, pp, layout):
            assert_same(decoded, oracle)
        for part, nested in ((gp, False), (pp, True)):
            texts = [json.dumps(h["parts"], **LAYOUTS[layout]).encode()
                     for frames in part.values() for f in frames.values() for h in f["humans"]]
            assert _fallbacks(texts, nested) == 0                    # no chunk left to msgspec


def _odd(part: dict, change) -> dict:
    """A copy of ``part`` with ``change(parts)`` applied to the parts of its first human with parts."""
    out = json.loads(json.dumps(part))
    for frames in out.values():
        for frame in frames.values():
            for human in frame["humans"]:
                if human["parts"]:
                    human["parts"] = change(human["parts"])
                    return out
    raise AssertionError("no parts")


def _rename(old_new):
    return lambda parts: {old_new(n): p for n, p in parts.items()}


ODD = {     # changes of a human's parts object that the array reader leaves to msgspec (or refuses later)
    "verb before box": lambda parts: {n: {"verb": p["verb"], "box": p["box"]} for n, p in parts.items()},
    "an extra key": lambda parts: {n: {**p, "name": n} for n, p in parts.items()},
    "a digit in a name": _rename(lambda n: n + "2"),
    "a space in a name": _rename(lambda n: "left " + n),
    "a minus and a dot in a name": _rename(lambda n: n + "-x.y"),
    "a non-ASCII name": _rename(lambda n: n + "\u00e9"),
    "an escaped quote in a name": _rename(lambda n: n + '"'),
    "a part named box": lambda parts: {"box": next(iter(parts.values())), **parts},
    "a part named verb": lambda parts: {**parts, "verb": next(iter(parts.values()))},
    "a state box": lambda parts: {n: {**p, "verb": "box" if isinstance(p["verb"], str) else ["box"] * len(p["verb"])}
                                  for n, p in parts.items()},
    "a state with a digit": lambda parts: {n: {**p, "verb": "s7" if isinstance(p["verb"], str) else
                                               ["s7"] * len(p["verb"])} for n, p in parts.items()},
    "a long name": _rename(lambda n: n * 5),
}


@pytest.mark.parametrize("odd", sorted(ODD))
@pytest.mark.parametrize("chunk", [1, 1 << 18])
def test_parts_off_the_form_give_the_dict_walks_tables(odd, chunk):
    gv, gp, pv, pp = _case(12)
    gp, pp = _odd(gp, ODD[odd]), _odd(pp, ODD[odd])
    with mock.patch.object(part_objects, "CHUNK_BYTES", chunk):
        for decoded, oracle in _both(gv, gp, pv, pp):
            assert_same(decoded, oracle)


@pytest.mark.parametrize("text", [
    b'{"hip": {"box": [[1, 2, 3, 4]], "verb": ["a"]}, "hip": {"box": [], "verb": []}}',   # a name twice
    b'{"hip": {"box": [[1, 2, 3, 4]], "verb": ["a"], "box": [[5, 6, 7, 8]]}}',            # a key twice
    b'{"hip": {"box": [[1e2, 2, 3, 4]], "verb": ["a"]}}',                                   # an exponent
    b'{"hip": {"box": [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], '
    b'[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], "verb": ["a"]}}',                            # nine boxes
    b'{"hip": {"box": [[123456789, 2, 3, 4]], "verb": ["a"]}}',                              # nine digits
    b'{ }',                                                                                   # an empty object, spaced
])
def test_unusual_parts_go_to_msgspec_and_read_as_json_does(text):
    texts = [b'{"head": {"box": [[0, 0, 1, 1]], "verb": ["none"]}}', b"{}", text, b"{}"]
    assert _fallbacks(texts, nested=True) >= 1
    frames = {"v": {"img_00001.json": {"humans": [{"box": [0, 0, 9, 9], "parts": json.loads(t)} for t in texts]}}}
    whole = b'{"v": {"img_00001.json": {"humans": [%s]}}}' % b", ".join(
        b'{"box": [0, 0, 9, 9], "parts": %s}' % t for t in texts)
    assert_same(decode_submission({"v": "a"}, whole), submission_tables({"v": "a"}, json.loads(whole)))
    assert json.loads(whole) == frames


@pytest.mark.parametrize("parts", [b"[]", b'""', b"12", b"null", b'{"hip": 3}', b'{"hip": {"box": [[1, 2, 3]], '
                                   b'"verb": ["a"]}}', b'{"hip": {"box": [[1, 2, 3, 4]]}}'])
def test_parts_that_are_not_parts_objects_are_not_canonical(parts):
    whole = b'{"v": {"img_00001.json": {"humans": [{"box": [0, 0, 9, 9], "parts": {}}, ' \
            b'{"box": [0, 0, 9, 9], "parts": %s}]}}}' % parts
    with pytest.raises(NotCanonical):
        decode_submission({"v": "a"}, whole)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), chunk=st.sampled_from([1, 300, 5000, 1 << 18]),
       pieces=st.integers(1, 9), layout=st.sampled_from(sorted(LAYOUTS)))
def test_proposals_in_pieces_join_as_the_whole(seed, chunk, pieces, layout):
    gv, gp, pv, pp = _case(seed)
    if seed % 3 == 0:          # videos in another order than the GT's: pieces out of the scored order
        pp = dict(reversed(list(pp.items())))
    text = json.dumps(pp, **LAYOUTS[layout]).encode()
    with mock.patch.object(part_objects, "CHUNK_BYTES", chunk):
        humans, *parts = decode_submission_stages(pv, text, pieces=pieces)
    assert 1 <= len(parts) <= pieces
    assert sum(len(p.part_boxes) for p in parts) == len(humans.part_name)
    gt = decode_ground_truth(gv, json.dumps(gp).encode())
    whole = decode_submission(pv, text)
    joined = join_humans(gt, humans)
    in_pieces = ProposalJoin(joined, gt)
    for piece in parts:
        in_pieces.add(piece)
    assert_same(in_pieces.finish(), join_tables(gt, whole))
    assert_same(SubmissionProposals.concatenate(parts), SubmissionProposals(
        **{f.name: getattr(whole, f.name) for f in dataclasses.fields(SubmissionProposals)}))


def test_finishing_before_every_piece_is_refused():
    gv, gp, pv, pp = _case(5)
    gt = decode_ground_truth(gv, json.dumps(gp).encode())
    with mock.patch.object(part_objects, "CHUNK_BYTES", 300):
        humans, first, *rest = decode_submission_stages(pv, json.dumps(pp).encode(), pieces=3)
    assert len(rest) == 2
    joined = ProposalJoin(join_humans(gt, humans), gt)
    joined.add(first)
    with pytest.raises(ValueError, match="before the proposals of every scored part"):
        joined.finish()


def test_chunks_start_where_asked():
    texts = [b'{"head": {"box": [[0, 0, 1, 1]], "verb": ["none"]}}'] * 40
    with mock.patch.object(part_objects, "CHUNK_BYTES", 100):
        objects = PartObjects(texts, nested=True, starts=np.array([0, 7, 19, 33]))
    assert [start for start, _ in objects.chunks] == [0, 7, 19, 33]
    assert objects.chunks[-1][1] == 40


def test_after_a_few_chunks_off_the_form_in_a_row_msgspec_reads_the_rest():
    """A file in another layout (here: "verb" before "box" everywhere) is not scanned chunk after chunk
    in vain; a chunk on the form after one off it is still scanned."""
    off = b'{"head": {"verb": ["none"], "box": [[0, 0, 1, 1]]}}'
    on = b'{"head": {"box": [[0, 0, 1, 1]], "verb": ["none"]}}'
    for texts, scans in (([off] * 20, part_objects.GIVE_UP), ([off, on] * 10, 20)):
        with mock.patch.object(part_objects, "CHUNK_BYTES", 10), \
                mock.patch.object(part_objects, "_Scan", wraps=part_objects._Scan) as scan:
            objects = PartObjects(texts, nested=True)
            assert len(objects.chunks) == 20
            human_parts, codes, names = objects.names()
            rows, *_ = objects.leaves()
        assert scan.call_count == scans
        assert human_parts.tolist() == [1] * 20 and names == ["head"] and rows.tolist() == [[0, 0, 1, 1]] * 20
