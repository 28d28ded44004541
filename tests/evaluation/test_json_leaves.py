"""The array readers of the part files' leaves give what ``json.loads`` gives, bit for bit, or refuse."""

from __future__ import annotations

import json
from unittest import mock

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partparse.evaluation import json_leaves
from partparse.evaluation.json_leaves import Codebook, box_rows, string_chunk

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHUNKS = st.sampled_from([1, 3, 8192])         # texts per chunk: chunk edges and one chunk
SPACES = st.sampled_from(["", " ", "\n  ", "\t"])


def _decimal(sign: str, whole: int, frac: str) -> str:
    return f"{sign}{whole}" + (f".{frac}" if frac else "")


NUMBERS = st.one_of(
    st.integers(0, 5000).map(str),                                              # pixel integers
    st.builds(_decimal, st.sampled_from(["", "-"]), st.integers(0, 10**8 - 1),
              st.text("0123456789", max_size=8)),                               # up to 8 + 8 digits
    st.floats(allow_nan=False, allow_infinity=False).map(repr),                 # exponents, 17 digits
    st.integers(-(10**25), 10**25).map(str),                                    # long integers
    st.sampled_from(["-0", "0", "-0.0", "0.000", "1E+2", "2.5e-3", "-1e5", "9007199254740993",
                     "12345678.1234567", "99999999.9999999", "123456789", "4.9e-324"]),
)


def _box(numbers: list[str], space: str) -> str:
    return "[" + space + ("," + space).join(numbers) + "]"


@st.composite
def box_texts(draw, nested: bool) -> list[str]:
    space = draw(SPACES)
    boxes = st.lists(NUMBERS, min_size=4, max_size=4).map(lambda b: _box(b, space))
    if not nested:
        return draw(st.lists(boxes, max_size=12))
    return draw(st.lists(st.lists(boxes, max_size=4).map(lambda bs: _box(bs, space)), max_size=12))


def string_codes(texts: list, nested: bool):
    """Codes, vocabulary and counts of ``texts`` read a chunk of ``json_leaves.CHUNK`` at a time, with one
    codebook (as :mod:`part_objects` reads the chunks msgspec decodes)."""
    book = Codebook()
    chunks = [string_chunk(texts[i:i + json_leaves.CHUNK], nested, book)
              for i in range(0, len(texts), json_leaves.CHUNK)]
    codes = np.concatenate([np.zeros(0, dtype=np.int64)] + [c for c, _ in chunks])
    counts = np.concatenate([np.zeros(0, dtype=np.int64)] + [n for _, n in chunks]) if nested else None
    return codes, list(book.vocab), counts


def _raws(texts: list) -> list:
    return [msgspec.Raw(t if isinstance(t, bytes) else t.encode()) for t in texts]


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.int64)


@SETTINGS
@given(data=st.data(), nested=st.booleans(), chunk=CHUNKS)
def test_boxes_are_the_numbers_json_reads(data, nested, chunk):
    texts = data.draw(box_texts(nested))
    with mock.patch.object(json_leaves, "CHUNK", chunk):
        rows, counts = box_rows(_raws(texts), nested)
    values = [json.loads(t) for t in texts]
    boxes = [b for bs in values for b in bs] if nested else values
    expected = np.array([float(x) for b in boxes for x in b], dtype=np.float64).reshape(-1, 4)
    assert rows.shape == expected.shape and np.array_equal(_bits(rows), _bits(expected))   # -0.0 too
    assert (counts.tolist() == [len(bs) for bs in values]) if nested else counts is None


def test_integers_and_decimals_convert_exactly_and_keep_the_sign_of_zero():
    texts = ["[-0, -0.0, 0.1, 12345678.1234567]", "[1E+2, 2.5e-3, 123456789, 0.30000000000000004]"]
    rows, _ = box_rows(_raws(texts), nested=False)
    expected = [0.0, -0.0, 0.1, 12345678.1234567, 100.0, 0.0025, 123456789.0, 0.30000000000000004]
    assert np.array_equal(_bits(rows.ravel()), _bits(expected))


@pytest.mark.parametrize("texts, nested", [
    (["[1, 2, 3]"], False), (["[[1, 2, 3, 4]]"], False), (["5"], False), (["[]"], False),
    (["[1, 2, 3, 4]"], True), (["5", "[[1, 2, 3, 4]]"], True), (["[[1, 2, 3, 4], 5]"], True),
    (["[5, [1, 2, 3, 4]]"], True), (["[[[1, 2, 3, 4]]]"], True), (["[[1, 2, 3, 4, 5]]"], True),
    (['[1, 2, 3, "4"]'], False), (["[1, 2, 3, true]"], False), (["[1, 2, 3, null]"], False),
    (['[{"x": 1}, 2, 3, 4]'], False), (["[[1, 2, 3, 1e400]]"], True),    # json reads inf there
])
def test_other_shapes_are_refused(texts, nested):
    with pytest.raises(ValueError):
        box_rows(_raws(texts), nested)


STATES = st.one_of(st.sampled_from(["none", "bend", "step_on", "", "a b", "x[,]\"y", "tiptoe_and_more"]),
                   st.text(max_size=40))


@st.composite
def string_texts(draw, nested: bool) -> tuple[list[str], list]:
    ascii_only = draw(st.booleans())
    pool = draw(st.lists(STATES, min_size=1, max_size=6))
    space = draw(SPACES)

    def dump(s):
        return json.dumps(s, ensure_ascii=ascii_only)

    if not nested:
        values = draw(st.lists(st.sampled_from(pool), max_size=20))
        return [dump(s) for s in values], values
    values = draw(st.lists(st.lists(st.sampled_from(pool), max_size=4), max_size=12))
    return ["[" + space + ("," + space).join(dump(s) for s in v) + "]" for v in values], values


@SETTINGS
@given(data=st.data(), nested=st.booleans(), chunk=CHUNKS)
def test_states_code_the_strings_json_reads(data, nested, chunk):
    texts, values = data.draw(string_texts(nested))
    with mock.patch.object(json_leaves, "CHUNK", chunk):
        codes, vocab, counts = string_codes(_raws([t.encode("utf-8", "surrogatepass") for t in texts]), nested)
    flat = [s for v in values for s in v] if nested else values
    assert [vocab[c] for c in codes] == flat
    assert vocab == list(dict.fromkeys(flat))                   # first-seen order
    assert (counts.tolist() == [len(v) for v in values]) if nested else counts is None


def test_hash_collisions_and_large_vocabularies_still_code_exactly():
    words = [f"state_{i:020d}" for i in range(50)] + ["x" * 40, "kick", "none", "kick"]   # 4 words, 5, 1
    texts = [json.dumps([w, "none"]) for w in words]
    expected = [s for w in words for s in (w, "none")]
    for patch in ({"MULT": np.zeros(4, dtype=np.uint64)}, {"MAX_HASHED": 2}):  # every hash collides; a cap
        with mock.patch.multiple(json_leaves.Codebook, **patch), mock.patch.object(json_leaves, "CHUNK", 4):
            codes, vocab, _ = string_codes(_raws(texts), nested=True)
        assert [vocab[c] for c in codes] == expected


@pytest.mark.parametrize("texts, nested", [
    (['["a", 1]'], True), (['"a"', '["b"]'], True), (['[["a"]]'], True), (['{"a": "b"}'], True),
    (['["a"]'], False), (["null"], False), (['"a"', "1"], False), (['"\\ud800"'], False),  # json takes it
])
def test_non_strings_are_refused(texts, nested):
    with pytest.raises(ValueError):
        string_codes(_raws(texts), nested)
