"""The leaves of the Kinetics-TPS part files (boxes, states) read from their JSON text with array operations.

Why: a test-set submission holds ~8 M box numbers and ~2 M state strings. Building a Python object for
each (and faulting in the pages they fill) and then walking them was most of the evaluation's time.
:mod:`part_file_decoder` lets msgspec check and decode the nesting and hand over values as
``msgspec.Raw``, the value's JSON text, which msgspec has checked is valid JSON. Here those texts are
joined a chunk at a time (so the arrays stay in cache) and read from their bytes: the human boxes, and
the parts' boxes and states where :mod:`part_objects` leaves a chunk to msgspec. :mod:`part_objects`
also reads its numbers (:func:`numbers_in`) and codes its strings (:class:`Codebook`) here.

Contract: the functions take valid JSON texts, check their *shape* (a list of 4 numbers, a list of such
lists, a string, a list of strings) and raise ``ValueError`` for any other shape. Values are those of
``json.loads``: numbers as ``float()`` of them (``-0`` is ``0.0``, ``-0.0`` is ``-0.0``); integers of
up to 8 digits and decimals of up to 8 + 7 digits are converted exactly, by integer arithmetic and one
division (Clinger's fast path: ``m / 10**k`` with both exact is correctly rounded); a chunk with other
numbers (exponents, longer digit strings) is decoded by msgspec, whose parser rounds like ``float()``.
Strings are told apart by their bytes (ASCII, no escapes: a quote opens or closes a string); a chunk
with a backslash or a non-ASCII byte is decoded by msgspec (escapes, UTF-8).
"""

from __future__ import annotations

from itertools import chain

import msgspec
import numpy as np

CHUNK = 8192  # texts joined and read at once: ~0.3 MB of JSON, so the temporaries stay in cache

_NUMBER_CHARS = b"0123456789-+.eE \t\n\r"
_ROLE = np.full(256, 4, dtype=np.int64)                      # skeleton characters: [ " , ] and others
_ROLE[[ord("["), ord('"'), ord(","), ord("]")]] = [0, 1, 2, 3]
_NEXT_OK = np.zeros(25, dtype=bool)                         # the pairs of `["," ][`: [" [] ", "] ," ][
_NEXT_OK[[0 * 5 + 1, 0 * 5 + 3, 1 * 5 + 2, 1 * 5 + 3, 2 * 5 + 1, 3 * 5 + 0]] = True
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)   # keep the first n bytes
_POW10 = 10.0 ** np.arange(8)                                                       # exact doubles


class Unusual(Exception):
    """Input the array readers leave to msgspec (exponents, long numbers, escapes, hash collisions)."""


def box_rows(texts: list, nested: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``(N, 4)`` float64 boxes of JSON ``texts`` (bytes-like), in order.

    ``nested=False``: every text is one box ``[x1, y1, x2, y2]``; ``nested=True``: every text is a list
    of boxes, and the second result gives the number of boxes of each text (else ``None``).
    """
    chunks = [box_chunk(texts[i:i + CHUNK], nested) for i in range(0, len(texts), CHUNK)]
    rows = np.concatenate([np.zeros((0, 4))] + [r for r, _ in chunks])
    counts = np.concatenate([np.zeros(0, dtype=np.int64)] + [n for _, n in chunks]) if nested else None
    return rows, counts


def box_chunk(part: list, nested: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`box_rows` of one chunk of texts (at most ~``CHUNK``: its arrays stay in cache)."""
    text = b"".join(part)
    skeleton = text.translate(None, _NUMBER_CHARS)          # what is left of lists of numbers: "[],"
    counts = None
    if nested:
        if skeleton.translate(None, b"[],"):
            raise ValueError("not a list of boxes of 4 numbers")
        marked = skeleton.replace(b"[,,,]", b'"')           # a list of 4 items that are not lists: a box
        n_boxes = (len(skeleton) - len(marked)) // 4
        counts = _flat_lists(marked, len(part), "not a list of boxes of 4 numbers")
    else:
        n_boxes = len(part)
        if skeleton != b"[,,,]" * n_boxes:
            raise ValueError("not a list of 4 numbers")
    try:
        values = _numbers(text, 4 * n_boxes)                 # (numbers outside boxes fail its count)
    except Unusual:
        values = _numbers_by_msgspec(part, nested)
    return values.reshape(-1, 4), counts


def string_chunk(part: list, nested: bool, book: Codebook) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes of the strings of JSON texts ``part`` by ``book`` (its vocabulary grows in first-seen order).

    ``nested=False``: every text is one string; ``nested=True``: every text is a list of strings, and the
    second result gives the number of strings of each text (else ``None``).
    """
    text = b"".join(part)
    try:
        if b"\\" in text or not text.isascii():
            raise Unusual
        first, length, counts = _strings(text, part, nested)
        return book.codes(text, first, length), counts
    except Unusual:
        return _strings_by_msgspec(part, nested, book.vocab)


def _flat_lists(skeleton: bytes, n_texts: int, problem: str) -> np.ndarray:
    """Items of each text of a skeleton where ``"`` marks an item (a string, or a box): ``n_texts`` flat
    lists ``[]`` or ``["," ... "]``. That language is local: it is the strings that start with ``[``,
    end with ``]`` and hold only the pairs ``["``, ``[]``, ``",``, ``"]``, ``,"``, ``][``."""
    role = _ROLE[np.frombuffer(skeleton, dtype=np.uint8)]
    opens, closes = np.flatnonzero(role == 0), np.flatnonzero(role == 3)
    if len(role) and not (role[0] == 0 and role[-1] == 3 and _NEXT_OK[role[:-1] * 5 + role[1:]].all()):
        raise ValueError(problem)
    if len(opens) != n_texts:                               # a text that is not a list
        raise ValueError(problem)
    return (closes - opens) // 2                            # a list of k items: "[" + 2k - 1 + "]"


def _numbers(text: bytes, n: int) -> np.ndarray:
    """The ``n`` numbers of a checked chunk, by integer arithmetic on 8-byte words."""
    special = text.translate(None, b"0123456789 \t\n\r[],")
    if b"e" in special or b"E" in special or b"+" in special:
        raise Unusual
    return _read_numbers(text, n, b"-" in special, b"." in special, ValueError("a number outside a box"))


def numbers_in(text: bytes, n: int) -> np.ndarray:
    """The ``n`` numbers of a text whose skeleton is checked to hold numbers only where boxes do, and no
    exponent (:mod:`part_objects`); :class:`Unusual` when it holds another count (a string with a digit,
    ``-`` or ``.``) or a number with many digits."""
    return _read_numbers(text, n, b"-" in text, b"." in text, Unusual())


def _read_numbers(text: bytes, n: int, minus: bool, decimals: bool, miscount: Exception) -> np.ndarray:
    """:func:`_numbers` once the text's characters are known: ``minus`` or ``decimals`` (a ``.``) in it."""
    buf = np.frombuffer(text, dtype=np.uint8)
    num = (buf - 48) < 10
    if minus or decimals:
        num |= (buf == ord("-")) | (buf == ord("."))
    edges = np.flatnonzero(num[1:] != num[:-1]) + 1         # starts and ends of numbers, alternating
    start, end = edges[0::2], edges[1::2]
    if len(start) != n or len(end) != n or num[0] or num[-1]:
        raise miscount
    neg = buf[start] == ord("-")
    start = start + neg
    words = words_of(text)
    if not decimals:
        if (end - start).max(initial=0) > 8:
            raise Unusual
        whole = _digits(words, start, end - start).astype(np.int64)
        return np.where(neg, -whole, whole).astype(np.float64)      # integers: -0 is 0, as float(int)
    dot = np.full(n, -1, dtype=np.int64)
    dots = np.flatnonzero(buf == ord("."))
    dot[np.searchsorted(start, dots, side="right") - 1] = dots
    has_dot = dot >= 0
    int_end = np.where(has_dot, dot, end)
    n_frac = np.where(has_dot, end - dot - 1, 0)
    if (int_end - start).max(initial=0) > 8 or n_frac.max(initial=0) > 7:
        raise Unusual
    whole = _digits(words, start, int_end - start).astype(np.int64)
    frac = _digits(words, np.where(has_dot, dot + 1, start), n_frac).astype(np.int64)
    mantissa = whole * 10 ** n_frac + frac                          # < 10**15: exact in float64
    value = np.where(has_dot, mantissa / _POW10[n_frac], np.where(neg, -whole, whole))
    return np.where(has_dot & neg, -value, value)


def words_of(text: bytes) -> np.ndarray:
    """The little-endian 8-byte word starting at every byte of ``text`` (a strided view of a copy)."""
    padded = text + bytes(8)
    return np.ndarray(shape=(len(text) + 1,), dtype="<u8", buffer=padded, strides=(1,))


def _digits(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Value of the ``length`` (0..8) ASCII digits at each ``start``: shifting the word left by the
    bytes it has beyond them moves them to its top bytes and drops the rest; then they are combined
    pairwise (simdjson's eight-digit parse, on arrays)."""
    w = words[start] << (np.uint64(64) - (length.astype(np.uint64) << np.uint64(3)))
    w &= np.uint64(0x0F0F0F0F0F0F0F0F)
    w = (w * np.uint64(10) + (w >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    w = (w * np.uint64(100) + (w >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return (w * np.uint64(10000) + (w >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _numbers_by_msgspec(part: list, nested: bool) -> np.ndarray:
    box = tuple[float, float, float, float]               # (msgspec's errors are ValueErrors: 1e400 is one)
    values = msgspec.json.decode(b"[" + b",".join(part) + b"]", type=list[list[box]] if nested else list[box])
    boxes = chain.from_iterable(values) if nested else values
    return np.array(list(chain.from_iterable(boxes)), dtype=np.float64)


def _strings(text: bytes, part: list, nested: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """First byte and length of every string of an ASCII chunk without escapes, and the strings per text."""
    buf = np.frombuffer(text, dtype=np.uint8)
    if not nested:      # a valid JSON text that starts and ends with a quote is one string
        length = np.fromiter(map(len, part), dtype=np.int64, count=len(part))
        start = np.cumsum(length) - length
        if len(part) and not ((buf[start] == ord('"')).all() and (buf[start + length - 1] == ord('"')).all()):
            raise ValueError("not a string")
        return start + 1, length - 2, None
    quotes = np.flatnonzero(buf == ord('"'))
    opens, closes = quotes[0::2], quotes[1::2]
    # the bytes outside the strings, with one '"' per string: "[", "]", "," and spaces when canonical
    gap_start = np.concatenate(([0], closes + 1))
    gap_len = np.concatenate((opens, [len(buf)])) - gap_start + 1    # + its string's opening quote
    outside = np.repeat(gap_start - np.cumsum(gap_len) + gap_len, gap_len) + np.arange(int(gap_len.sum()))
    skeleton = buf[outside[:-1]].tobytes().translate(None, b" \t\n\r")
    return opens + 1, closes - opens - 1, _flat_lists(skeleton, len(part), "not a list of strings")


def _strings_by_msgspec(part: list, nested: bool, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray | None]:
    values = msgspec.json.decode(b"[" + b",".join(part) + b"]", type=list[list[str]] if nested else list[str])
    strings = list(chain.from_iterable(values)) if nested else values
    code = np.array([vocab.setdefault(s, len(vocab)) for s in strings], dtype=np.int64)
    return code, np.array([len(v) for v in values], dtype=np.int64) if nested else None


class Codebook:
    """Codes of byte strings, found by a sorted search on a 64-bit hash of their bytes; every string is
    checked against the bytes of the string that gave its code, so a collision cannot merge two states.
    For a vocabulary beyond ``MAX_HASHED`` strings (not a list of part states) msgspec reads the rest."""

    MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
                    dtype=np.uint64)
    MAX_HASHED = 1 << 14

    def __init__(self):
        self.vocab: dict[str, int] = {}
        self.hashes = np.zeros(0, dtype=np.uint64)          # sorted
        self.hash_code = np.zeros(0, dtype=np.int64)
        self.code_words = np.zeros((0, 4), dtype=np.uint64)     # the bytes and length of each code's string
        self.code_length = np.zeros(0, dtype=np.int64)

    def codes(self, text: bytes, first: np.ndarray, length: np.ndarray) -> np.ndarray:
        n_words = max(1, -(-int(length.max(initial=0)) // 8))
        if n_words > 4 or len(self.hashes) > self.MAX_HASHED:
            raise Unusual
        words = words_of(text + bytes(8 * n_words))
        w = [words[first + 8 * k] & _LOW_BYTES[np.clip(length - 8 * k, 0, 8)] for k in range(n_words)]
        if n_words == 1:        # a short string is its own key (no raw NUL in a JSON string: zero padding)
            h = w[0]
        else:
            h = length.astype(np.uint64)
            for k in range(n_words):
                h ^= w[k] * self.MULT[k]
        pos = self._find(h)
        new = np.flatnonzero(self.hashes[pos] != h) if len(self.hashes) else np.arange(len(h))
        if len(new):
            _, where = np.unique(h[new], return_index=True)
            first_seen = np.sort(new[where])
            code = [self.vocab.setdefault(text[first[j]:first[j] + length[j]].decode("ascii"), len(self.vocab))
                    for j in first_seen.tolist()]                # new strings in first-seen order
            self._add(h[first_seen], np.array(code, dtype=np.int64), np.stack([x[first_seen] for x in w], 1),
                      length[first_seen])
            pos = self._find(h)
        code = self.hash_code[pos]
        if not ((self.code_length[code] == length).all()
                and all((w[k] == self.code_words[:, k][code]).all() for k in range(n_words))):
            raise Unusual                                  # a hash collision: msgspec reads the chunk
        return code

    def _find(self, h: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.hashes, h), max(len(self.hashes) - 1, 0))

    def _add(self, h: np.ndarray, code: np.ndarray, words: np.ndarray, length: np.ndarray) -> None:
        hashes = np.concatenate((self.hashes, h))
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.hash_code = hashes[order], np.concatenate((self.hash_code, code))[order]
        if len(self.vocab) > len(self.code_words):
            n = len(self.vocab) - len(self.code_words)
            self.code_words = np.concatenate((self.code_words, np.zeros((n, 4), dtype=np.uint64)))
            self.code_length = np.concatenate((self.code_length, np.full(n, -1, dtype=np.int64)))
        self.code_words[code, :words.shape[1]] = words
        self.code_length[code] = length
