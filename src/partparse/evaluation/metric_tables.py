"""The tables that a canonical file pair (ground truth or submission) is read into, one row per item.

:mod:`part_file_decoder` fills them from the bytes of the part files; :mod:`table_join` joins a ground
truth's and a submission's into the metric's flat arrays (:class:`FlatEvaluation`). Only the *canonical*
form of the files is read that way: the documented nesting with lists, dicts and 4-number boxes where
they belong and string part names and states. Anything else raises :class:`NotCanonical`, and
:meth:`TPSEvaluator.from_folders` scores the files with the general walk (:mod:`general_walk`), which
reproduces every error and oddity of the official script.

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
class GroundTruthParts:
    """The GT parts' boxes and states (the ground truth's reader hands them on after
    :class:`GroundTruthHumans`)."""

    part_box: np.ndarray         # (P, 4) float64
    part_state: np.ndarray       # (P,) code into ``states``
    states: list[str]


@dataclass
class GroundTruthHumans:
    """``gt_vid_result.json`` and ``gt_part_result.json`` of the videos of ``gt_vid`` (in its order), down to
    each human's part names: what the human assignment needs."""

    gt_vid: dict                 # {video: action}, as read
    video_frames: np.ndarray     # (V,) frame entries per video
    frame_key: list[str]         # (F,) frame keys
    frame_humans: np.ndarray     # (F,) humans per frame
    human_box: np.ndarray        # (H, 4) float32
    human_parts: np.ndarray      # (H,) parts per human
    part_name: np.ndarray        # (P,) code into ``names``
    names: list[str]


@dataclass
class GroundTruthTables(GroundTruthHumans, GroundTruthParts):
    """The whole ground truth: :class:`GroundTruthHumans` and :class:`GroundTruthParts` in one."""

    @classmethod
    def combine(cls, humans: GroundTruthHumans, parts: GroundTruthParts) -> GroundTruthTables:
        return cls(**vars(humans), **vars(parts))


@dataclass
class SubmissionProposals:
    """The proposals of ``pred_part_result.json``: each part's boxes and states. The submission's reader
    hands them on after :class:`SubmissionHumans`, so that the human assignment runs while it reads these."""

    part_boxes: np.ndarray       # (P,) proposal boxes per part
    part_states: np.ndarray      # (P,) proposal states per part (N_p)
    box: np.ndarray              # (sum part_boxes, 4) float64
    state: np.ndarray            # (sum part_states,) code into ``states``
    states: list[str]

    @classmethod
    def concatenate(cls, pieces: list[SubmissionProposals]) -> SubmissionProposals:
        """Pieces of consecutive parts in one (a piece's states are a beginning of the next one's)."""
        return cls(part_boxes=np.concatenate([p.part_boxes for p in pieces]),
                   part_states=np.concatenate([p.part_states for p in pieces]),
                   box=np.concatenate([p.box for p in pieces]), state=np.concatenate([p.state for p in pieces]),
                   states=pieces[-1].states)


@dataclass
class SubmissionHumans:
    """``pred_vid_result.json`` and ``pred_part_result.json`` down to each human's part names, every video
    (file order): all that the human assignment and the search for each GT part's prediction need."""

    pred_vid: dict               # {video: action}, as read
    video_ids: list[str]         # (V,) videos of pred_part_result.json
    video_frames: np.ndarray     # (V,)
    frame_key: list[str]         # (F,)
    frame_humans: np.ndarray     # (F,)
    human_box: np.ndarray        # (H, 4) float32
    human_parts: np.ndarray      # (H,)
    part_name: np.ndarray        # (P,) code into ``names``
    names: list[str]


@dataclass
class SubmissionTables(SubmissionHumans, SubmissionProposals):
    """The whole submission: :class:`SubmissionHumans` and :class:`SubmissionProposals` in one."""

    @classmethod
    def combine(cls, humans: SubmissionHumans, proposals: SubmissionProposals) -> SubmissionTables:
        return cls(**vars(humans), **vars(proposals))


def count_array(values: list[int]) -> np.ndarray:
    """Counts (lengths of a level of the nesting) as an int64 array."""
    return np.fromiter(values, dtype=np.int64, count=len(values))
