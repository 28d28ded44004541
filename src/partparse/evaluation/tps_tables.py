"""One official JSON file pair (ground truth or submission) turned into NumPy tables in one pass.

Each side is read on its own (in its own process, see :mod:`tps_files`), so the metric never holds the
parsed dicts of both files, and the join (:mod:`tps_join`) is array work. Files are decoded straight into
these tables by :mod:`tps_decode`; the readers here take dicts (of the dict API, and of the files
:mod:`tps_decode` refuses). The readers only take the *canonical* form of the files: the documented
nesting with lists, dicts and 4-number boxes where they belong and string part names and states.
Anything else raises :class:`NotCanonical`, and the caller scores the dicts with the general walk of
:mod:`tps_flatten`, which reproduces every error and oddity of the official script. On canonical files
both give the same numbers: the boxes are converted by the same NumPy calls on the same values, and
states are compared as codes of equal strings.

Rows follow the files: videos, their frames, the humans of each frame, the parts of each human (dict
order), for a submission the proposals of each part. Counts per row give the nesting (``frame_humans``,
``human_parts``, ...); offsets are their cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NotCanonical(Exception):
    """The input holds something the table readers do not take; score it with the general walk."""


@dataclass
class GroundTruthTables:
    """``gt_vid_result.json`` and ``gt_part_result.json`` of the videos of ``gt_vid`` (in its order)."""

    gt_vid: dict                 # {video: action}, as read
    video_frames: np.ndarray     # (V,) frame entries per video
    frame_key: list[str]         # (F,) frame keys
    frame_humans: np.ndarray     # (F,) humans per frame
    human_box: np.ndarray        # (H, 4) float32
    human_parts: np.ndarray      # (H,) parts per human
    part_name: np.ndarray        # (P,) code into ``names``
    part_box: np.ndarray         # (P, 4) float64
    part_state: np.ndarray       # (P,) code into ``states``
    names: list[str]
    states: list[str]


@dataclass
class SubmissionTables:
    """``pred_vid_result.json`` and ``pred_part_result.json``, every video (file order)."""

    pred_vid: dict               # {video: action}, as read
    video_ids: list[str]         # (V,) videos of pred_part_result.json
    video_frames: np.ndarray     # (V,)
    frame_key: list[str]         # (F,)
    frame_humans: np.ndarray     # (F,)
    human_box: np.ndarray        # (H, 4) float32
    human_parts: np.ndarray      # (H,)
    part_name: np.ndarray        # (P,) code into ``names``
    part_boxes: np.ndarray       # (P,) proposal boxes per part
    part_states: np.ndarray      # (P,) proposal states per part (N_p)
    box: np.ndarray              # (sum part_boxes, 4) float64
    state: np.ndarray            # (sum part_states,) code into ``states``
    names: list[str]
    states: list[str]


def ground_truth_tables(gt_vid, gt_part) -> GroundTruthTables:
    """Tables of the GT videos; raises :class:`NotCanonical` for anything but the canonical form."""
    if type(gt_vid) is not dict or type(gt_part) is not dict:
        raise NotCanonical("a GT file is not a JSON object")
    video_frames, keys, frame_humans, human_boxes, human_parts = [], [], [], [], []
    names, numbers, states = [], [], []
    try:
        for vid in gt_vid:
            frames = gt_part[vid]
            if type(frames) is not dict:
                raise NotCanonical(f"GT video {vid}: frames are not an object")
            video_frames.append(len(frames))
            keys += frames
            for frame in frames.values():
                humans = frame["humans"]
                if type(humans) is not list:
                    raise NotCanonical(f"GT video {vid}: 'humans' is not a list")
                frame_humans.append(len(humans))
                for human in humans:
                    human_boxes.append(human["box"])
                    parts = human["parts"]
                    human_parts.append(len(parts))
                    names += parts
                    for part in parts.values():
                        box = part["box"]
                        if len(box) != 4:
                            raise NotCanonical(f"GT video {vid}: a part 'box' is not 4 numbers")
                        numbers += box
                        states.append(part["verb"])
    except (KeyError, TypeError, AttributeError) as err:
        raise NotCanonical(f"ground truth: {type(err).__name__}: {err}") from None
    name_codes, name_vocab = value_codes(names)
    state_codes, state_vocab = value_codes(states)
    return GroundTruthTables(
        gt_vid=gt_vid, video_frames=count_array(video_frames), frame_key=keys,
        frame_humans=count_array(frame_humans), human_box=_boxes32(human_boxes),
        human_parts=count_array(human_parts), part_name=name_codes,
        part_box=_boxes64(numbers), part_state=state_codes, names=name_vocab, states=state_vocab)


def submission_tables(pred_vid, pred_part) -> SubmissionTables:
    """Tables of a submission; raises :class:`NotCanonical` for anything but the canonical form."""
    if type(pred_vid) is not dict or type(pred_part) is not dict:
        raise NotCanonical("a submission file is not a JSON object")
    video_frames, keys, frame_humans, human_boxes, human_parts = [], [], [], [], []
    names, part_boxes, part_states, numbers, states = [], [], [], [], []
    try:
        for vid, frames in pred_part.items():
            if type(frames) is not dict:
                raise NotCanonical(f"submission video {vid}: frames are not an object")
            video_frames.append(len(frames))
            keys += frames
            for frame in frames.values():
                humans = frame["humans"]
                if type(humans) is not list:
                    raise NotCanonical(f"submission video {vid}: 'humans' is not a list")
                frame_humans.append(len(humans))
                for human in humans:
                    human_boxes.append(human["box"])
                    parts = human["parts"]
                    human_parts.append(len(parts))
                    names += parts
                    for part in parts.values():
                        b, v = part["box"], part["verb"]
                        if type(b) is not list or type(v) is not list:
                            raise NotCanonical(f"submission video {vid}: a part's 'box' or 'verb' is not a list")
                        part_boxes.append(len(b))
                        part_states.append(len(v))
                        for box in b:
                            if len(box) != 4:
                                raise NotCanonical(f"submission video {vid}: a part 'box' is not 4 numbers")
                            numbers += box
                        states += v
    except (KeyError, TypeError, AttributeError) as err:
        raise NotCanonical(f"submission: {type(err).__name__}: {err}") from None
    name_codes, name_vocab = value_codes(names)
    state_codes, state_vocab = value_codes(states)
    return SubmissionTables(
        pred_vid=pred_vid, video_ids=list(pred_part), video_frames=count_array(video_frames), frame_key=keys,
        frame_humans=count_array(frame_humans), human_box=_boxes32(human_boxes),
        human_parts=count_array(human_parts), part_name=name_codes, part_boxes=count_array(part_boxes),
        part_states=count_array(part_states),
        box=_boxes64(numbers), state=state_codes, names=name_vocab, states=state_vocab)


def count_array(values: list[int]) -> np.ndarray:
    """Counts (lengths of a level of the nesting) as an int64 array."""
    return np.fromiter(values, dtype=np.int64, count=len(values))


def value_codes(values: list) -> tuple[np.ndarray, list[str]]:
    """Integer codes of string ``values`` and their vocabulary (first-seen order).

    Strings only: two strings get the same code exactly when ``==`` (what the official script compares
    states with) says they are equal. Other JSON values do not code that simply (``1 == 1.0 == True``,
    NaN never equals itself, lists are unhashable) and go to the general walk.
    """
    try:
        vocab = list(dict.fromkeys(values))
    except TypeError:
        raise NotCanonical("a part state is not a string") from None
    if any(type(v) is not str for v in vocab):
        raise NotCanonical("a part state is not a string")
    index = {v: i for i, v in enumerate(vocab)}
    return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values)), vocab


def _boxes32(boxes: list) -> np.ndarray:
    """Human boxes as the official script casts them (``np.float32`` of the JSON numbers)."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float32)
    try:
        arr = np.asarray(boxes, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):     # OverflowError: an integer beyond the float range
        raise NotCanonical("a human 'box' is not 4 numbers") from None
    if arr.shape != (len(boxes), 4):
        raise NotCanonical("a human 'box' is not 4 numbers")
    return arr


def _boxes64(numbers: list) -> np.ndarray:
    """``(N, 4)`` float64 boxes from their numbers, 4 by 4 (each box's length was checked on the way):
    the JSON numbers as Python floats, converted as the general walk converts them."""
    try:
        return np.fromiter(numbers, dtype=np.float64, count=len(numbers)).reshape(-1, 4)
    except (TypeError, ValueError, OverflowError):
        raise NotCanonical("a part 'box' is not 4 numbers") from None
