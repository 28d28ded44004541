"""The Kinetics-TPS metric's data as flat arrays: what both routes (:mod:`table_join` for canonical files,
:mod:`general_walk` for anything else) produce, and the threshold-dependent scoring on top of it.

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


def sequential_segment_sum(values: np.ndarray, segment: np.ndarray, position: np.ndarray,
                           n_segments: int) -> np.ndarray:
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
        fixed = self._threshold_free()
        human_matched = self.human_matched(human_iou)
        fixed.check_limits(self, human_matched)
        matched = human_matched[self.part_human]
        return np.where(matched, fixed.part_score(part_iou), 0.0), matched

    def _threshold_free(self) -> _ThresholdFree:
        """What every threshold pair shares, built on first use (the arrays above are not changed after)."""
        fixed = self.__dict__.get("_fixed")
        if fixed is None:
            fixed = self.__dict__["_fixed"] = _ThresholdFree(self)
        return fixed

    def video_psc(self, human_iou: float, part_iou: float) -> np.ndarray:
        """PSC of every GT video at the given thresholds, bit-identical to the official loop.

        A human's sum over its parts is all zeros when the human is not matched, and the same sum for
        every human threshold when it is: so the part level runs once per part threshold (cached), and
        each further human threshold costs work per human, not per part.
        """
        fixed = self._threshold_free()
        human_matched = self.human_matched(human_iou)
        fixed.check_limits(self, human_matched)
        human_sum = np.where(human_matched, fixed.human_part_sum(part_iou), 0.0)
        frame_sum = fixed.human_sums.add(human_sum)
        frame_avg = frame_sum / self.frame_parts
        video_sum = fixed.frame_sums.add(frame_avg)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.video_frames > 0, video_sum / np.maximum(self.video_frames, 1), 1.0)


class _OrderedSums:
    """:func:`sequential_segment_sum` for one fixed ``segment`` array (rows grouped by segment, in order):
    the table layout is worked out once, each call only fills the table and adds its columns."""

    def __init__(self, segment: np.ndarray, n_segments: int):
        position = segment_positions(np.bincount(segment, minlength=n_segments))
        self.n_segments = n_segments
        self.width = int(position.max()) + 1 if len(position) else 0
        self.cell = position * n_segments + segment            # flat index of each row: one table row per position

    def add(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.n_segments, dtype=np.float64)
        if self.width == 0:
            return out
        table = np.zeros(self.width * self.n_segments, dtype=np.float64)
        table[self.cell] = values
        for row in table.reshape(self.width, self.n_segments):  # left to right, as the official loop
            out += row
        return out


class _ThresholdFree:
    """What the scores of every threshold pair share: ``1/N_p`` of each scored part, the parts that break
    the official script's limits, the layouts of the ordered sums (parts of a human, humans of a frame,
    frames of a video), and per part threshold already seen, each human's sum over its parts."""

    def __init__(self, flat: FlatEvaluation):
        # (the proposal arrays, not ``flat``: the evaluation holds this, so no reference cycle)
        self.prop_iou, self.prop_state_ok, self.prop_part = flat.prop_iou, flat.prop_state_ok, flat.prop_part
        n = flat.part_nstates
        self.value = np.divide(1.0, np.maximum(n, 1), dtype=np.float64)   # (== True / N_p, bit for bit)
        self.value[n <= 0] = 0.0
        self.too_many = np.flatnonzero(n > MAX_PROPOSALS)
        self.more_boxes = np.flatnonzero(flat.part_nboxes > n)
        n_humans, n_frames = len(flat.human_frame), len(flat.frame_video)
        self.part_sums = _OrderedSums(flat.part_human, n_humans)
        self.human_sums = _OrderedSums(flat.human_frame, n_frames)
        self.frame_sums = _OrderedSums(flat.frame_video, len(flat.video_ids))
        self._human_part_sums: dict[float, np.ndarray] = {}
        self._best: np.ndarray | None = None

    def part_score(self, part_iou: float) -> np.ndarray:
        """Per scored part, its score if its human is matched: ``1/N_p`` when one of its proposals has
        the right state and an IoU ``>=`` ``part_iou``, else 0."""
        return np.where(self.best_iou() >= part_iou, self.value, 0.0)

    def best_iou(self) -> np.ndarray:
        """Per scored part, the largest IoU of its proposals with the right state (NaN IoUs left out; NaN
        when none is left): ``>= t`` exactly when one of them is ``>= t``, for any ``t``. Found once, so a
        further part threshold costs one comparison per part instead of one per proposal."""
        if self._best is None:
            self._best = np.full(len(self.value), np.nan)
            np.fmax.at(self._best, self.prop_part, np.where(self.prop_state_ok, self.prop_iou, np.nan))
        return self._best

    def human_part_sum(self, part_iou: float) -> np.ndarray:
        """Per GT human, the ordered sum of its parts' scores if it is matched (cached per threshold)."""
        if part_iou not in self._human_part_sums:
            self._human_part_sums[part_iou] = self.part_sums.add(self.part_score(part_iou))
        return self._human_part_sums[part_iou]

    def check_limits(self, flat: FlatEvaluation, human_matched: np.ndarray) -> None:
        """Raise the official script's failure on the first part of a matched human that breaks a limit."""
        for bad, why in ((self.too_many, f"more than {MAX_PROPOSALS} proposals (the official evaluator asserts)"),
                         (self.more_boxes, "more boxes than verbs (the official evaluator fails with IndexError)")):
            bad = bad[human_matched[flat.part_human[bad]]]
            if len(bad):
                v, fr, person, part = flat.part_where(int(bad[0]))
                raise InputError(f"pred_part_result.json [video {v} / frame {fr} / person {person} / "
                                 f"part {part}]: {why}")


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
