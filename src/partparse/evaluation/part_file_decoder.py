"""The canonical part files (``gt_part_result.json``, ``pred_part_result.json``) decoded straight into tables.

Why not ``json.loads`` and a walk over the dicts: at the size of the Kinetics-TPS test set that is ~20 M
Python objects to build (and to fault in the pages they fill) and walk again. Here msgspec decodes
the nesting down to the humans into typed structs, which checks the canonical shape on the way (frames
are objects with a ``humans`` list, humans objects with ``box`` and ``parts``), and leaves each human box
and each human's ``parts`` object as its JSON text (``msgspec.Raw``): :mod:`json_leaves` reads the boxes,
:mod:`part_objects` the parts objects, with array operations. Reading a test-set submission into tables
took 2.8 s of CPU the dict way, 1.1 s this way (docs/benchmarks.md).

The tables are those a walk over ``json.loads``'s dicts builds (tested against such a walk, the oracle
``tests/oracle/tps_dict_tables.py``, on generated and odd files): like ``json``, msgspec keeps the last
value of a repeated key (a dict keeps the first one's position) and ignores keys the metric does not read
(``number``, ``name``); :mod:`part_objects` leaves every parts object not in the official form to msgspec.
Anything msgspec or the leaf readers refuse (NaN or Infinity literals, lone
surrogates, booleans or 1e400 for numbers, integers beyond 2**53 in a human box, a string where a box
belongs, invalid UTF-8 anywhere ...) raises :class:`NotCanonical`, and the files are scored by the general
walk (:mod:`general_walk`), which handles them as the official script does.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

import msgspec
import numpy as np

from partparse.evaluation.json_leaves import box_rows
from partparse.evaluation.metric_tables import (
    GroundTruthHumans,
    GroundTruthParts,
    GroundTruthTables,
    NotCanonical,
    SubmissionHumans,
    SubmissionProposals,
    SubmissionTables,
    count_array,
)
from partparse.evaluation.part_objects import PartObjects


class _Human(msgspec.Struct, gc=False):    # gc=False: acyclic, so the collector need not track them
    box: msgspec.Raw
    parts: msgspec.Raw                      # {name: {"box": ..., "verb": ...}}: read by part_objects


class _Frame(msgspec.Struct, gc=False):
    humans: list[_Human]


_DECODER = msgspec.json.Decoder(dict[str, dict[str, _Frame]])


def decode_ground_truth(gt_vid, data) -> GroundTruthTables:
    """Tables of the GT videos (``gt_vid``'s order) from the bytes of ``gt_part_result.json``."""
    humans, parts = decode_ground_truth_stages(gt_vid, data)
    return GroundTruthTables.combine(humans, parts)


def decode_ground_truth_stages(gt_vid, data) -> Iterator[GroundTruthHumans | GroundTruthParts]:
    """:func:`decode_ground_truth` in two steps, the humans then the parts' boxes and states (see
    :func:`decode_submission_stages`)."""
    if type(gt_vid) is not dict:
        raise NotCanonical("gt_vid_result.json is not a JSON object")
    videos = _decode(data)
    try:
        walk = _Walk([videos[vid] for vid in gt_vid])
    except KeyError as err:
        raise NotCanonical(f"ground truth: no video {err}") from None
    human_box = _human_boxes(walk.human_boxes)
    parts = PartObjects(walk.parts_objects, nested=False)
    human_parts, name_codes, names = parts.names()
    yield GroundTruthHumans(
        gt_vid=gt_vid, video_frames=count_array(walk.video_frames), frame_key=walk.keys,
        frame_humans=count_array(walk.frame_humans), human_box=human_box,
        human_parts=human_parts, part_name=name_codes, names=names)
    try:
        part_box, _, part_state, states, _ = parts.leaves()
    except ValueError as err:
        raise NotCanonical(f"ground truth: {err}") from None
    yield GroundTruthParts(part_box=part_box, part_state=part_state, states=states)


def decode_submission(pred_vid, data) -> SubmissionTables:
    """Tables of every video (file order) from the bytes of ``pred_part_result.json``."""
    humans, *pieces = decode_submission_stages(pred_vid, data)
    return SubmissionTables.combine(humans, SubmissionProposals.concatenate(pieces))


PROPOSAL_PIECES = 6   # pieces a submission's proposals are handed on in (the join's tail waits for one)


def decode_submission_stages(pred_vid, data, pieces: int = PROPOSAL_PIECES) -> Iterator[SubmissionHumans |
                                                                                         SubmissionProposals]:
    """:func:`decode_submission` in steps: the humans (the nesting, human boxes and part names), then the
    proposals (part boxes and states) in about ``pieces`` pieces of consecutive parts (at least one), so
    that a reader can hand each on while it reads the next (:class:`partparse.evaluation.table_join.ProposalJoin`
    joins them as they come). Raises :class:`NotCanonical` at the step that meets the problem."""
    if type(pred_vid) is not dict:
        raise NotCanonical("pred_vid_result.json is not a JSON object")
    videos = _decode(data)
    walk = _Walk(videos.values())
    human_box = _human_boxes(walk.human_boxes)
    parts = PartObjects(walk.parts_objects, nested=True, starts=walk.video_starts())
    human_parts, name_codes, names = parts.names()
    yield SubmissionHumans(
        pred_vid=pred_vid, video_ids=list(videos), video_frames=count_array(walk.video_frames), frame_key=walk.keys,
        frame_humans=count_array(walk.frame_humans), human_box=human_box,
        human_parts=human_parts, part_name=name_codes, names=names)
    try:
        for box, part_boxes, state, states, part_states in parts.leaf_pieces(pieces):
            yield SubmissionProposals(part_boxes=part_boxes, part_states=part_states, box=box, state=state,
                                      states=states)
    except ValueError as err:
        raise NotCanonical(f"submission: {err}") from None


def _decode(data) -> dict:
    """``data``: the file's bytes, or any buffer of them (an ``mmap``)."""
    if np.frombuffer(data, dtype=np.uint8).max(initial=0) >= 0x80:
        try:    # msgspec checks the UTF-8 of the strings it decodes, not of what it skips or leaves raw
            codecs.utf_8_decode(data, "strict", True)
        except UnicodeDecodeError:
            raise NotCanonical("not UTF-8") from None
    try:
        return _DECODER.decode(data)
    except (ValueError, RecursionError) as err:    # msgspec's DecodeError and ValidationError are ValueErrors
        raise NotCanonical(f"msgspec: {err}") from None


class _Walk:
    """The nesting as flat lists, in file order: counts per level, frame keys, and the raw JSON of the
    human boxes and of the humans' parts objects."""

    def __init__(self, videos):
        self.video_frames, self.keys, self.frame_humans, self.human_boxes, self.parts_objects = [], [], [], [], []
        for frames in videos:
            self.video_frames.append(len(frames))
            self.keys += frames
            for frame in frames.values():
                humans = frame.humans
                self.frame_humans.append(len(humans))
                self.human_boxes += [h.box for h in humans]
                self.parts_objects += [h.parts for h in humans]

    def video_starts(self) -> np.ndarray:
        """The first human of each video (an index into the flat lists)."""
        frames = np.asarray(self.video_frames, dtype=np.int64)
        humans_before = np.concatenate(([0], np.cumsum(self.frame_humans, dtype=np.int64)))
        first_frame = np.cumsum(frames) - frames
        return humans_before[first_frame]


def _human_boxes(texts: list) -> np.ndarray:
    """Human boxes as float32, as the official script casts the JSON numbers (``np.float32`` of them). Beyond 2**53 an
    integer is not exactly a float64, and casting it to float32 through one could round twice."""
    try:
        boxes, _ = box_rows(texts, nested=False)
    except ValueError as err:
        raise NotCanonical(f"a human box: {err}") from None
    if len(boxes) and np.abs(boxes).max() >= 2.0 ** 53:
        raise NotCanonical("a human box coordinate beyond 2**53")
    return boxes.astype(np.float32)
