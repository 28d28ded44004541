"""Each human's ``parts`` object of a canonical part file, read from its JSON text with array operations.

Why: msgspec building a struct, two ``msgspec.Raw`` and a dict entry for each of a test-set file's ~1 M
parts was half of a reader's time (docs/benchmarks.md, "Issue 14, third round"). Here msgspec hands over
each human's ``parts`` as one JSON text, and the texts of a few hundred humans are read at once.

A chunk of texts is read here when every part in it has the form the official files have:
``{"<name>": {"box": B, "verb": V}, ...}`` with the keys ``box`` then ``verb`` and nothing else, the
names of a human all different, ASCII strings without escapes, number characters or spaces, and any
JSON whitespace between the tokens (B: 4 numbers for the ground truth, a list of such lists for a
submission; V: a string, or a list of strings). Every byte of the chunk is checked: the strings are found
by their quotes, and the bytes between two strings, less numbers and whitespace (the *skeleton*), must be
exactly what that form puts there (``:{`` between a name and ``"box"``, ``:[[,,,],[,,,]],`` for two
boxes ...). Any other chunk (key order, other keys, a repeated name, escapes, exponents ...) is decoded
by msgspec into :class:`Part` structs, as every part was before, and read by :mod:`json_leaves`: both
ways give the same tables (tested against a walk over ``json.loads``'s dicts).

Two steps, as :mod:`part_file_decoder` hands its tables on: :meth:`PartObjects.names` (each human's part
names, what the human assignment needs) and :meth:`PartObjects.leaves` (the boxes and states).
"""

from __future__ import annotations

import msgspec
import numpy as np

from partparse.evaluation.json_leaves import (
    Codebook,
    Unusual,
    box_chunk,
    numbers_in,
    string_chunk,
    words_of,
)
from partparse.evaluation.metric_tables import NotCanonical

CHUNK_BYTES = 1 << 18   # texts read at once: their arrays stay in cache
GIVE_UP = 3             # chunks off the form in a row, after which msgspec reads the rest (a file's layout)


class Part(msgspec.Struct, gc=False):   # gc=False: acyclic, so the collector need not track them
    box: msgspec.Raw                    # GT: [x1, y1, x2, y2]; submission: a list of those
    verb: msgspec.Raw                   # GT: a state; submission: a list of states


_PARTS = msgspec.json.Decoder(list[dict[str, Part]])

# The skeleton of a chunk: its bytes less the number characters and JSON whitespace. Strings keep their
# quotes; a string that holds one of these characters is shorter there than in the text, and such a chunk
# is left to msgspec (_Scan.odd_strings), so the keys "box" and "verb" can be checked in the skeleton.
_SKELETON_DROP = b"0123456789-. \t\n\r"
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)   # keep the first n bytes
_END = b'{""'   # appended to a chunk: its last part ends like any other, before a next human's first name
_MAX_BOXES = 8  # in a part of a submission (the official script asserts 5 at most); more: msgspec's way
NAME, BOX_KEY, VERB_KEY, STATE = range(4)      # the roles of a chunk's strings


def _word(pattern: bytes) -> int:
    return int.from_bytes(pattern[:8].ljust(8, b"\0"), "little")


# Ground truth: four strings a part, name, "box", "verb" and its state; the skeleton after each:
_GT_GAPS = (b":{", b":[,,,],", b":")                # (then "}," to the next part, "}}{" to the next human)
# Submission: the skeleton after a string (the gap) tells the role of the next one. Short gaps:
_PRED_GAPS = ((b":{", BOX_KEY, NAME), (b":[", STATE, VERB_KEY), (b",", STATE, STATE), (b"]},", NAME, STATE),
              (b"]}}{", NAME, STATE), (b":[]},", NAME, VERB_KEY), (b":[]}}{", NAME, VERB_KEY))   # (gap, next, after)
_LONG = len(_PRED_GAPS)          # any other gap: after "box", its list of boxes
_PRED_NEXT = np.array([n for _, n, _ in _PRED_GAPS] + [VERB_KEY], dtype=np.int64)
_PRED_OK = np.zeros((4, _LONG + 1), dtype=bool)                 # [role before, gap]
_PRED_OK[[a for _, _, a in _PRED_GAPS] + [BOX_KEY], np.arange(_LONG + 1)] = True
_PRED_EDGE = np.array([g in (b"]}}{", b":[]}}{") for g, _, _ in _PRED_GAPS] + [False])   # to the next human
_PRED_WORD = np.array([_word(g) for g, _, _ in _PRED_GAPS] + [0], dtype=np.uint64)
_PRED_LENGTH = np.array([len(g) for g, _, _ in _PRED_GAPS] + [-1], dtype=np.int64)
_PRED_LOOKUP = np.full(8 << 16, _LONG, dtype=np.int64)         # [length (7: longer), first two bytes]
_PRED_LOOKUP[[(len(g) << 16) | (_word(g) & 0xFFFF) for g, _, _ in _PRED_GAPS]] = np.arange(_LONG)
# the skeleton of a list of k boxes, ":[" + "[,,,],[,,,]" + "],", as 8-byte words, and k by its length
_BOX_LISTS = [b":[" + b",".join([b"[,,,]"] * k) + b"]," for k in range(_MAX_BOXES + 1)]
_BOX_LIST_WORDS = np.array([[_word(s[i:i + 8]) for i in range(0, 56, 8)] for s in _BOX_LISTS], dtype=np.uint64)
_BOX_LIST_K = np.full(len(_BOX_LISTS[-1]) + 2, -1, dtype=np.int64)                  # (last: longer)
_BOX_LIST_K[[len(s) for s in _BOX_LISTS]] = np.arange(_MAX_BOXES + 1)


class PartObjects:
    """The parts of a list of humans, from the JSON texts of their ``parts`` objects (``msgspec.Raw``, or
    any bytes-like), in file order. ``nested``: a submission's lists of boxes and states."""

    def __init__(self, texts: list, nested: bool, starts: np.ndarray | None = None):
        """``starts``: where chunks may start (sorted text indices, e.g. each video's first human: then
        the pieces of :meth:`leaf_pieces` hold whole videos); ``None``: anywhere."""
        self.nested = nested
        self.texts = texts
        self.sizes = sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        ends = np.cumsum(sizes)
        cuts = np.searchsorted(ends, np.arange(CHUNK_BYTES, int(ends[-1]) if len(ends) else 0, CHUNK_BYTES)) + 1
        if starts is not None and len(starts):
            cuts = np.asarray(starts)[np.minimum(np.searchsorted(starts, cuts), len(starts) - 1)]
        cuts = np.unique(np.clip(cuts, 0, len(texts)))
        edges = [0, *cuts[(cuts > 0) & (cuts < len(texts))].tolist(), len(texts)]
        self.chunks = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if a < b]
        self.names_book = Codebook()
        self.states_book = Codebook()
        self._scans: list[_Scan | list[dict[str, Part]]] = []    # per chunk: its scan, or msgspec's parts

    def names(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(parts per human, part-name codes, names)``: codes into the names, first-seen order."""
        counts, codes, refused = [], [], 0
        for start, stop in self.chunks:
            texts = self.texts[start:stop]
            try:
                if refused >= GIVE_UP:
                    raise Unusual
                scan = _Scan(texts, self.sizes[start:stop], self.nested, self.names_book)
                counts.append(scan.human_parts)
                codes.append(scan.name_codes)
                refused = 0
            except Unusual:
                refused += 1
                scan = _decode(texts)                   # (kept for leaves(): msgspec reads a chunk once)
                counts.append(np.fromiter(map(len, scan), dtype=np.int64, count=len(scan)))
                vocab = self.names_book.vocab
                codes.append(np.array([vocab.setdefault(n, len(vocab)) for p in scan for n in p], dtype=np.int64))
            self._scans.append(scan)
        return _concatenated(counts), _concatenated(codes), list(self.names_book.vocab)

    def leaves(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, list[str], np.ndarray | None]:
        """``(boxes (N, 4) float64, boxes per part, state codes, states, states per part)`` after
        :meth:`names`; the per-part counts are ``None`` for the ground truth (one of each). Raises
        ``ValueError`` for a box or state of another shape (msgspec's chunks)."""
        return next(self.leaf_pieces(1))

    def leaf_pieces(self, pieces: int):
        """:meth:`leaves` in about ``pieces`` pieces of consecutive parts (at least one), each as soon as it
        is read; a piece's states are those seen so far (codes keep their meaning: the states only grow)."""
        cuts = np.linspace(0, len(self.chunks), max(1, min(pieces, len(self.chunks))) + 1).round().astype(int)
        for first, last in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            boxes, box_counts, states, state_counts = [], [], [], []
            for k in range(first, last):
                rows, codes, per_part = self._chunk_leaves(k)
                boxes.append(rows)
                states.append(codes)
                box_counts.append(per_part[0])
                state_counts.append(per_part[1])
            rows = np.concatenate([np.zeros((0, 4)), *boxes])
            vocab = list(self.states_book.vocab)
            if not self.nested:
                yield rows, None, _concatenated(states), vocab, None
            else:
                yield rows, _concatenated(box_counts), _concatenated(states), vocab, _concatenated(state_counts)

    def _chunk_leaves(self, k: int) -> tuple[np.ndarray, np.ndarray, tuple]:
        (start, stop), scan = self.chunks[k], self._scans[k]
        texts = self.texts[start:stop]
        if not isinstance(scan, list):              # (a scan, not msgspec's parts)
            try:
                rows, codes = scan.leaves(texts, self.sizes[start:stop], self.states_book)
                return rows, codes, (scan.box_counts, scan.state_counts)
            except Unusual:
                scan = _decode(texts)
        parts = [p for human in scan for p in human.values()]
        rows, per_part_boxes = box_chunk([p.box for p in parts], self.nested)
        codes, per_part_states = string_chunk([p.verb for p in parts], self.nested, self.states_book)
        return rows, codes, (per_part_boxes, per_part_states)


def _concatenated(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype=np.int64), *arrays])


def _decode(texts: list) -> list[dict[str, Part]]:
    try:
        return _PARTS.decode(b"[" + b",".join(texts) + b"]")
    except (ValueError, RecursionError) as err:    # msgspec's DecodeError and ValidationError are ValueErrors
        raise NotCanonical(f"msgspec: {err}") from None


def _joined(texts: list, sizes: np.ndarray) -> tuple[bytes, np.ndarray]:
    """The texts that are not ``{}``, joined, then :data:`_END`; and the places of those texts in ``texts``
    (``sizes``: their lengths). Raises :class:`Unusual` for another text of two bytes."""
    empty = np.flatnonzero(sizes == 2)
    if len(empty) and b"".join([texts[k] for k in empty.tolist()]) != b"{}" * len(empty):
        raise Unusual
    keep = np.flatnonzero(sizes != 2)
    return b"".join([texts[k] for k in keep.tolist()] + [_END]), keep


class _Scan:
    """One chunk checked against the form and read down to its part names (what the human assignment
    needs) and the places of its states; :meth:`leaves` reads the boxes and states (the chunk's texts
    joined again: cheaper than keeping them). Each raises :class:`Unusual` for a chunk off the form.
    A string holding a character the skeleton drops makes the skeleton's reading of the keys unsure:
    :meth:`leaves` refuses such a chunk, msgspec reads it, and any problem is met there (the names are
    read from the text, so they are right for any chunk that msgspec reads)."""

    def __init__(self, texts: list, sizes: np.ndarray, nested: bool, names_book: Codebook):
        text, kept = _joined(texts, sizes)
        self.human_parts = np.zeros(len(texts), dtype=np.int64)
        self.name_codes = self.box_counts = self.state_counts = np.zeros(0, dtype=np.int64)
        self.state_first = self.state_length = np.zeros(0, dtype=np.int64)
        self.odd_strings = False
        if not len(kept):
            return                                          # (every text "{}")
        if b"\\" in text or not text.isascii():
            raise Unusual
        quotes = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord('"'))
        skeleton = text.translate(None, _SKELETON_DROP)
        at = np.flatnonzero(np.frombuffer(skeleton, dtype=np.uint8) == ord('"'))
        if len(quotes) % 2 or len(quotes) != len(at) or skeleton[:at[0]] != b"{":
            raise Unusual                                   # (valid JSON without escapes: always even)
        first, length = quotes[0::2] + 1, quotes[1::2] - quotes[0::2] - 1    # each string, in the text
        # a string holding a character the skeleton drops (a digit, "-", "." or a space): leaves() refuses
        self.odd_strings = not (at[1::2] - at[0::2] - 1 == length).all()
        gap_start = at[1:-1:2] + 1                                            # between strings, in the skeleton
        gap_length = at[2::2] - gap_start
        words = words_of(skeleton + bytes(64))
        if nested:
            role, edge, box_lists = _submission_roles(words, gap_start, gap_length)
        else:
            role, edge, box_lists = _ground_truth_roles(words, gap_start, gap_length)
        if role[-1] != NAME or int(edge.sum()) != len(kept):
            raise Unusual                                   # (each text one object, then _END: always)
        name = role == NAME
        names = np.flatnonzero(name)[:-1]                                     # (less _END's)
        human = np.concatenate(([0], np.cumsum(edge)))[names]
        parts_per_text = np.bincount(human, minlength=len(kept))
        self.name_codes = names_book.codes(text, first[names], length[names])
        _check_distinct(self.name_codes, human, parts_per_text)
        self.human_parts[kept] = parts_per_text
        states = np.flatnonzero(role == STATE)
        self.state_first, self.state_length = first[states], length[states]
        if nested:
            self.state_counts = np.bincount(np.cumsum(name)[states] - 1, minlength=len(names))
            self.box_counts = _box_list_lengths(words, *box_lists)
        else:                                               # (one box and one state a part)
            self.box_counts = np.ones(len(names), dtype=np.int64)

    def leaves(self, texts: list, sizes: np.ndarray, states_book: Codebook) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's boxes (N, 4) and state codes; :class:`Unusual` when a string holds a character the
        skeleton drops, or msgspec must read a number (an exponent, many digits)."""
        if self.odd_strings:
            raise Unusual
        if not len(self.box_counts):
            return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
        text, _ = _joined(texts, sizes)
        rows = numbers_in(text, 4 * int(self.box_counts.sum())).reshape(-1, 4)
        return rows, states_book.codes(text, self.state_first, self.state_length)


def _ground_truth_roles(words, start, length) -> tuple[np.ndarray, np.ndarray, None]:
    """The role of each string, and which gaps lead to the next human (:class:`Unusual` off the form)."""
    n = len(start) + 1
    if n % 4 != 1:                                          # name, "box", "verb", state, ..., _END's name
        raise Unusual
    word = words[start] & _LOW_BYTES[np.minimum(length, 8)]
    for k, gap in enumerate(_GT_GAPS):
        if not ((length[k::4] == len(gap)).all() and (word[k::4] == _word(gap)).all()):
            raise Unusual
    # the keys, in the skeleton (where strings are as in the text, see _Scan): ':{"box":' and ',"verb":'
    box_key, verb_key = words[start[0::4]], words[start[1::4] + 6]
    if not ((box_key == _word(b':{"box":')).all() and (verb_key == _word(b',"verb":')).all()):
        raise Unusual
    to_part = (length[3::4] == 2) & (word[3::4] == _word(b"},"))
    to_human = (length[3::4] == 3) & (word[3::4] == _word(b"}}{"))
    if not (to_part | to_human).all():
        raise Unusual
    role = np.tile(np.array([NAME, BOX_KEY, VERB_KEY, STATE]), n // 4 + 1)[:n]
    edge = np.zeros(n - 1, dtype=bool)
    edge[3::4] = to_human
    return role, edge, None


def _submission_roles(words, start, length) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The role of each string, which gaps lead to the next human, and where the box lists are in the
    skeleton (checked by :meth:`_Scan.leaves`); :class:`Unusual` off the form."""
    raw = words[start]
    word = raw & _LOW_BYTES[np.minimum(length, 8)]
    gap = _PRED_LOOKUP[(np.minimum(length, 7) << 16) | (word & np.uint64(0xFFFF)).astype(np.int64)]
    short = gap != _LONG
    if not (((word == _PRED_WORD[gap]) & (length == _PRED_LENGTH[gap])) | ~short).all():
        raise Unusual
    role = np.empty(len(start) + 1, dtype=np.int64)
    role[0] = NAME
    role[1:] = _PRED_NEXT[gap]
    if not _PRED_OK[role[:-1], gap].all():
        raise Unusual
    # the keys, in the skeleton (where strings are as in the text, see _Scan): ':{"box":' and '],"verb":'
    boxes = np.flatnonzero(~short)                                             # after "box" (checked above)
    if not ((raw[gap == 0] == _word(b':{"box":')).all()
            and (words[start[boxes] + length[boxes] - 2] == _word(b'],"verb":')).all()):
        raise Unusual
    return role, _PRED_EDGE[gap], (start[boxes], length[boxes])


def _box_list_lengths(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The number of boxes of each box list's skeleton (``:[`` + ``[,,,],`` ... ``[,,,]`` + ``],``);
    :class:`Unusual` for any other skeleton, or more than ``_MAX_BOXES`` boxes."""
    k = _BOX_LIST_K[np.minimum(length, len(_BOX_LIST_K) - 1)]
    if not len(k):
        return k
    if k.min() < 0:
        raise Unusual
    for w in range(-(-int(length.max()) // 8)):     # (past its end a list's words are zero, and so is the mask)
        if not ((words[start + 8 * w] & _LOW_BYTES[np.clip(length - 8 * w, 0, 8)]) == _BOX_LIST_WORDS[k, w]).all():
            raise Unusual
    return k


def _check_distinct(codes: np.ndarray, human: np.ndarray, parts_per_text: np.ndarray) -> None:
    """:class:`Unusual` when a human names a part twice (JSON keeps the last value at the first place:
    msgspec's dicts do the same)."""
    if not len(codes):
        return
    if codes.max() < 64:
        bits = np.left_shift(np.uint64(1), codes.astype(np.uint64))
        starts = np.cumsum(parts_per_text) - parts_per_text
        seen = np.bitwise_or.reduceat(bits, starts[parts_per_text > 0])
        if not (np.bitwise_count(seen) == parts_per_text[parts_per_text > 0]).all():
            raise Unusual
        return
    key = np.sort(human * (int(codes.max()) + 1) + codes)
    if (key[1:] == key[:-1]).any():
        raise Unusual
