"""The Kinetics-TPS metric's data as flat arrays: what both readers (:mod:`tps_join` for canonical files,
:mod:`tps_flatten` for anything else) produce, and the threshold-dependent scoring on top of it.

Layout (one row per item, GT order everywhere):

* evaluated frames: GT frames with humans that the submission also has;
* GT humans of those frames, with the prediction the assignment gave them and its IoU;
* GT parts of assigned humans, with the number of predicted states ``N_p``;
* proposals of those parts, with their IoU to the GT part and whether their state is right.

Only the thresholds are left for :meth:`FlatEvaluation.video_psc`, which rebuilds the official sums in
the official order (see :func:`sequential_segment_sum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from partparse.data.tps_validation import MAX_HUMANS, MAX_PROPOSALS
from partparse.io import InputError


def sequential_segment_sum(values: np.ndarray, segment: np.ndarray, position: np.ndarray, n_segments: int) -> np.ndarray:
    """Sum ``values`` per segment, adding strictly left to right by ``position`` (like a Python loop).

    Pairwise or blocked summation (``np.add.reduceat``, ``bincount``) can differ in the last bit; the
    official metric adds in order, and PSCs land exactly on curve thresholds, so order matters.
    Zero padding is harmless: ``x + 0.0 == x`` exactly.
    """
    out = np.zeros(n_segments, dtype=np.float64)
    if len(values) == 0:
        return out
    width = int(position.max()) + 1
    table = np.zeros((n_segments, width), dtype=np.float64)
    table[segment, position] = values
    for col in range(width):
        out += table[:, col]
    return out


def segment_positions(segment_sizes: np.ndarray) -> np.ndarray:
    """0..size-1 within each segment, for consecutive segments of the given sizes."""
    segment_sizes = np.asarray(segment_sizes, dtype=np.int64)
    starts = np.repeat(np.cumsum(segment_sizes) - segment_sizes, segment_sizes)
    return np.arange(int(segment_sizes.sum())) - starts


def segment_starts(segment_sizes: np.ndarray) -> np.ndarray:
    """Offset of each segment's first item, for consecutive segments of the given sizes."""
    segment_sizes = np.asarray(segment_sizes, dtype=np.int64)
    return np.cumsum(segment_sizes) - segment_sizes


class CodedValues(Sequence):
    """A read-only list stored as integer codes into ``vocab`` (code -1 reads as ``None``).

    Millions of part names and states travel between processes and through NumPy as codes; indexing
    gives the values back, so it reads like the list it replaces.
    """

    def __init__(self, codes: np.ndarray, vocab: list):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.vocab = list(vocab)

    @classmethod
    def encode(cls, values: list) -> CodedValues:
        """Codes of hashable ``values`` (``None`` becomes -1); raises ``TypeError`` for unhashable ones."""
        index: dict = {}
        codes = [-1 if v is None else index.setdefault(v, len(index)) for v in values]
        return cls(np.asarray(codes, dtype=np.int64), list(index))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        code = int(self.codes[k])
        return None if code < 0 else self.vocab[code]


@dataclass
class GroundTruthStates:
    """Every GT part of the scored videos (all frames), for the video-level part-state labels."""

    part_video: np.ndarray    # (P_all,) index into ``FlatEvaluation.video_ids``
    part_name: np.ndarray     # (P_all,) code into ``names``
    part_state: np.ndarray    # (P_all,) code into ``states``
    names: list[str]
    states: list[str]


@dataclass
class FlatEvaluation:
    video_ids: list[str]
    action_correct: np.ndarray        # (V,) bool
    video_frames: np.ndarray          # (V,) frames counted in the PSC denominator
    frame_video: np.ndarray           # (F,) video of each evaluated frame
    frame_parts: np.ndarray           # (F,) GT parts in the frame (> 0)
    human_frame: np.ndarray           # (H,) evaluated frame of each GT human
    human_pred: np.ndarray            # (H,) assigned prediction (a row of the reader's prediction table) or -1
    human_iou: np.ndarray             # (H,) float32 IoU of the assigned pair
    human_square: np.ndarray          # (H,) the frame's IoU matrix needed no padding (float32 compare)
    part_human: np.ndarray            # (P,) GT human of each scored part (assigned humans only)
    part_nstates: np.ndarray          # (P,) N_p, 0 when the prediction lacks the part
    part_nboxes: np.ndarray           # (P,) number of proposal boxes
    part_name: Sequence               # (P,) body part name (CodedValues)
    prop_part: np.ndarray             # (Q,) part of each proposal
    prop_iou: np.ndarray              # (Q,) float64 IoU with the GT part (-1 if disjoint)
    prop_state_ok: np.ndarray         # (Q,) proposal state equals GT state
    part_top_state: Sequence          # (P,) state of the first proposal, or None (CodedValues where codable)
    part_video: np.ndarray            # (P,) video of each scored part
    part_person: np.ndarray           # (P,) index of the part's person in its GT frame
    frame_where: list[tuple[str, str]]  # (video, frame key) of each evaluated frame
    gt_states: GroundTruthStates | None = None  # all GT parts (the table reader); None: use the GT dicts

    def part_where(self, k: int) -> tuple[str, str, int, str]:
        """(video, frame key, person index, part name) of scored part ``k``, for messages."""
        vid, key = self.frame_where[int(self.human_frame[self.part_human[k]])]
        return vid, key, int(self.part_person[k]), self.part_name[k]

    def human_matched(self, human_iou: float) -> np.ndarray:
        """GT humans matched at ``human_iou`` (strictly greater, in the dtype NumPy compares in)."""
        square = self.human_iou > human_iou                       # float32 array vs Python float
        padded = self.human_iou.astype(np.float64) > human_iou
        return (self.human_pred >= 0) & np.where(self.human_square, square, padded)

    def part_scores(self, human_iou: float, part_iou: float) -> tuple[np.ndarray, np.ndarray]:
        """Per scored part: ``1/N_p`` or 0, and whether its human is matched."""
        matched = self.human_matched(human_iou)[self.part_human]
        self._check_limits(matched)
        hit = (self.prop_iou >= part_iou) & self.prop_state_ok
        correct = np.zeros(len(self.part_human), dtype=bool)
        correct[self.prop_part[hit]] = True
        n = self.part_nstates
        score = np.where(n > 0, correct / np.maximum(n, 1), 0.0)
        return np.where(matched, score, 0.0), matched

    def _check_limits(self, matched: np.ndarray) -> None:
        for bad, why in ((matched & (self.part_nstates > MAX_PROPOSALS),
                          f"more than {MAX_PROPOSALS} proposals (the official evaluator asserts)"),
                         (matched & (self.part_nboxes > self.part_nstates),
                          "more boxes than verbs (the official evaluator fails with IndexError)")):
            if bad.any():
                v, fr, person, part = self.part_where(int(np.flatnonzero(bad)[0]))
                raise InputError(f"pred_part_result.json [video {v} / frame {fr} / person {person} / part {part}]: {why}")

    def video_psc(self, human_iou: float, part_iou: float) -> np.ndarray:
        """PSC of every GT video at the given thresholds, bit-identical to the official loop."""
        score, _ = self.part_scores(human_iou, part_iou)
        n_humans, n_frames, n_videos = len(self.human_frame), len(self.frame_video), len(self.video_ids)
        part_pos = segment_positions(np.bincount(self.part_human, minlength=n_humans))
        human_sum = sequential_segment_sum(score, self.part_human, part_pos, n_humans)
        human_pos = segment_positions(np.bincount(self.human_frame, minlength=n_frames))
        frame_sum = sequential_segment_sum(human_sum, self.human_frame, human_pos, n_frames)
        frame_avg = frame_sum / self.frame_parts
        frame_pos = segment_positions(np.bincount(self.frame_video, minlength=n_videos))
        video_sum = sequential_segment_sum(frame_avg, self.frame_video, frame_pos, n_videos)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.video_frames > 0, video_sum / np.maximum(self.video_frames, 1), 1.0)


def check_videos(gt_vid, gt_part, pred_vid, pred_part) -> None:
    """The official script's first failures: no GT video, or a GT video missing from another table
    (anything supporting ``in``)."""
    if not gt_vid:
        raise InputError("gt_vid_result.json: no videos to score (the official script divides by zero here)")
    for name, table, what in (("gt_part_result.json", gt_part, "ground truth"),
                              ("pred_vid_result.json", pred_vid, "submission"),
                              ("pred_part_result.json", pred_part, "submission")):
        missing = [v for v in gt_vid if v not in table]
        if missing:
            raise InputError(f"{name}: {what} lacks {len(missing)} of the {len(gt_vid)} videos of "
                             f"gt_vid_result.json (first: {missing[0]}); the official evaluator stops here")


def too_many_humans(video: str, key: str, n: int) -> InputError:
    return InputError(f"pred_part_result.json [video {video} / frame {key}]: {n} humans; "
                      f"the official evaluator allows at most {MAX_HUMANS}")
