"""The Kinetics-TPS metric, vectorised, equal to the official evaluator's number (quirks included).

Definition: ``xiadingZ/Kinetics-TPS-evaluation`` (``eval_detection.py``, latest commit, with the fix that a
GT human takes the parts of the prediction it was assigned to). Every quirk is kept on purpose:

* IoU with inclusive pixels (``w = x2 - x1 + 1``), ``-1.0`` for disjoint boxes; human IoUs in float32,
  part IoUs in float64 (the JSON numbers as Python floats).
* Human matching per frame: Hungarian assignment on ``1 - IoU`` padded with zeros to square (float32 when
  no padding is needed, float64 otherwise, exactly as NumPy computes it), disjoint pairs taking part with
  ``-1``; a pair matches if its IoU is strictly above the human threshold (compared in the matrix dtype).
* A GT part scores ``1 / N_p`` (``N_p`` = number of predicted states) when a proposal overlaps it with
  IoU ``>=`` the part threshold and has its state.
* Sums follow the official order (parts of a human, humans of a frame, frames of a video, steps of the
  curve), so every PSC is bit-identical and the area agrees to the last bit.

Two routes, chosen in one place (:meth:`TPSEvaluator.from_folders`): canonical files go bytes -> tables ->
join (:mod:`folder_tables`, :mod:`part_file_decoder`, :mod:`table_join`; the humans are joined while the
readers still read the parts' boxes and states); anything else (dicts handed to
the evaluator, files the decoder refuses) goes through the general walk (:mod:`general_walk`). Both give
the same :class:`FlatEvaluation`, so the scores do not depend on the route.

The work is split so that the grid of thresholds costs almost nothing: the assignment does not depend on
the thresholds, so it is solved once; part IoUs are computed once for the matched humans, and each part's
best right-state IoU once; each human's sum over its parts once per part threshold, and the layout of
the ordered sums once for all pairs
(:meth:`FlatEvaluation.video_psc`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from partparse.data.tps_format import GT_PART_FILE, GT_VID_FILE, PRED_PART_FILE, PRED_VID_FILE
from partparse.evaluation.flat_evaluation import FlatEvaluation
from partparse.evaluation.folder_tables import FolderReaders, read_dicts
from partparse.evaluation.general_walk import flatten_general
from partparse.evaluation.metric_tables import GroundTruthTables, SubmissionTables
from partparse.evaluation.part_state_accuracy import part_state_accuracy
from partparse.evaluation.table_join import ProposalJoin, join_humans, join_tables
from partparse.io import InputError

OFFICIAL_HUMAN_IOU = 0.5
OFFICIAL_PART_IOU = 0.3
#: Human/part IoU thresholds of the official script's grid.
GRID_IOUS = (0.001, 0.3, 0.5, 0.9, 0.99)
#: PSC thresholds at which the official script prints the conditioned accuracy.
ACCURACY_THRESHOLDS = (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
CURVE_STEPS = 10000
MATCHING_MODES = ("official", "corrected")


@dataclass
class TPSResult:
    """Scores of one submission at one (human, part) IoU threshold pair.

    ``score`` is the official number as a fraction (0.6137 for 61.37 %; perfect = 0.9999).
    ``psc[i]`` and ``action_correct[i]`` belong to ``video_ids[i]`` (GT order).
    """

    score: float
    human_iou: float
    part_iou: float
    matching: str
    video_ids: list[str]
    psc: np.ndarray
    action_correct: np.ndarray
    accuracy_at: dict[float, float] = field(default_factory=dict)

    @property
    def video_accuracy(self) -> float:
        """Top-1 action accuracy over the GT videos."""
        return float(self.action_correct.mean()) if len(self.action_correct) else 0.0

    @property
    def mean_psc(self) -> float:
        return float(self.psc.mean()) if len(self.psc) else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "human_iou": self.human_iou, "part_iou": self.part_iou,
                "matching": self.matching, "num_videos": len(self.video_ids),
                "video_accuracy": self.video_accuracy, "mean_psc": self.mean_psc,
                "accuracy_at": {str(k): v for k, v in self.accuracy_at.items()}}


def conditioned_accuracy(psc: np.ndarray, correct: np.ndarray, t: float) -> float:
    """Fraction of videos with ``PSC >= t`` and the right action (the official ``cal_pvacc``)."""
    return int(np.count_nonzero((psc >= t) & correct)) / len(psc)


def area_under_curve(psc: np.ndarray, correct: np.ndarray, steps: int = CURVE_STEPS) -> float:
    """The official area: ``sum_{k=1}^{steps-1} (1/steps) * acc(k/steps)``, added in step order.

    The accuracy is a step function of the sorted PSCs of correct videos, so all ``steps - 1`` values come
    from one ``searchsorted``; the terms are formed and added exactly as the official loop does.
    """
    n = len(psc)
    if n == 0:
        raise ValueError("no videos to score")
    good = np.sort(psc[correct])
    t = np.arange(1, steps, dtype=np.int64) / steps              # same float as Python's k / steps
    count = len(good) - np.searchsorted(good, t, side="left")     # videos with psc >= t
    terms = (1.0 / steps) * (count / n)
    area = 0
    for v in terms.tolist():                                      # sequential, as the official loop
        area += v
    return float(area)


class TPSEvaluator:
    """Scores one submission against one ground truth; reuse it for several thresholds (``grid``).

    Build it with :meth:`from_folders` (the official files: the route is chosen there) or from the four
    official dicts (``TPSEvaluator(gt_vid, gt_part, pred_vid, pred_part)``, or :meth:`from_dicts`), which
    are scored by the general walk.

    Args:
        gt_vid, gt_part, pred_vid, pred_part: the four official JSON dicts.
        matching: ``"official"`` (disjoint pairs enter the assignment with IoU -1) or ``"corrected"``
            (disjoint pairs count 0 in the assignment).
    Raises:
        partparse.io.InputError: a GT video missing from the submission, more than 10 humans or 5
            proposals where the official evaluator asserts, or malformed entries (message names the place).
    """

    def __init__(self, gt_vid: Mapping, gt_part: Mapping, pred_vid: Mapping, pred_part: Mapping,
                 matching: str = "official"):
        _check_matching(matching)
        self.matching = matching
        self.flat: FlatEvaluation = flatten_general(gt_vid, gt_part, pred_vid, pred_part,
                                                    corrected=matching == "corrected")
        self._gt_part = gt_part
        self._results: dict[tuple[float, float], TPSResult] = {}

    @classmethod
    def from_dicts(cls, gt_vid: Mapping, gt_part: Mapping, pred_vid: Mapping, pred_part: Mapping,
                   matching: str = "official") -> TPSEvaluator:
        """The evaluator of the four official dicts (the general walk); same as the constructor."""
        return cls(gt_vid, gt_part, pred_vid, pred_part, matching=matching)

    @classmethod
    def from_folders(cls, gt: str | os.PathLike, pred: str | os.PathLike, matching: str = "official",
                     processes: bool = True) -> TPSEvaluator:
        """The evaluator of a GT folder and a submission folder (the official file names).

        The one place that picks the route: canonical files are decoded into tables (each folder in a
        process of its own unless ``processes=False``) and joined; anything else (a file missing,
        malformed or not canonical) is read as dicts and scored by the general walk, whose messages name
        the official files (``pred_part_result.json [video ...]``).
        """
        _check_matching(matching)
        with FolderReaders(gt, pred, processes=processes) as readers:
            flat = _join_as_read(readers, corrected=matching == "corrected")
        if flat is not None:
            return cls.from_flat(flat, matching)
        gt_vid, gt_part = read_dicts(gt, GT_VID_FILE, GT_PART_FILE)
        pred_vid, pred_part = read_dicts(pred, PRED_VID_FILE, PRED_PART_FILE)
        return cls(gt_vid, gt_part, pred_vid, pred_part, matching=matching)

    @classmethod
    def from_tables(cls, gt: GroundTruthTables, pred: SubmissionTables, matching: str = "official") -> TPSEvaluator:
        """The evaluator of files already read into tables (:func:`partparse.evaluation.folder_tables.read_tables`)."""
        _check_matching(matching)
        return cls.from_flat(join_tables(gt, pred, corrected=matching == "corrected"), matching)

    @classmethod
    def from_flat(cls, flat: FlatEvaluation, matching: str = "official") -> TPSEvaluator:
        """The evaluator of the metric's flat arrays, as the table join builds them (``matching``: the one
        they were joined with)."""
        _check_matching(matching)
        ev = cls.__new__(cls)
        ev.matching = matching
        ev.flat = flat
        ev._gt_part = None                    # (the tables carry the GT part states)
        ev._results = {}
        return ev

    def evaluate(self, human_iou: float = OFFICIAL_HUMAN_IOU, part_iou: float = OFFICIAL_PART_IOU) -> TPSResult:
        key = (human_iou, part_iou)
        if key not in self._results:          # (the CLI's main pair is also a grid pair)
            f = self.flat
            psc = f.video_psc(human_iou, part_iou)
            correct = f.action_correct
            self._results[key] = TPSResult(
                score=area_under_curve(psc, correct), human_iou=human_iou, part_iou=part_iou,
                matching=self.matching, video_ids=f.video_ids, psc=psc, action_correct=correct,
                accuracy_at={t: conditioned_accuracy(psc, correct, t) for t in ACCURACY_THRESHOLDS})
        return self._results[key]

    def grid(self, ious: tuple[float, ...] = GRID_IOUS) -> dict[tuple[float, float], TPSResult]:
        """The official grid: every (human IoU, part IoU) pair of ``ious``."""
        return {(h, p): self.evaluate(h, p) for h in ious for p in ious}

    def part_state_accuracy(self, human_iou: float = OFFICIAL_HUMAN_IOU) -> dict[str, float]:
        """The video-level part-state accuracy (:func:`part_state_accuracy`) of this submission."""
        return part_state_accuracy(self._gt_part, self.flat, human_iou)


def _join_as_read(readers: FolderReaders, corrected: bool) -> FlatEvaluation | None:
    """Join the tables as the readers hand them on: the humans while the readers still read the parts'
    boxes and states, then the submission's proposals a piece at a time, each while the next is read.
    ``None``: a folder is not canonical (the general walk's case)."""
    gt, humans = readers.ground_truth_humans(), readers.submission_humans()
    if gt is None or humans is None:
        return None
    try:
        joined = join_humans(gt, humans, corrected)
    except InputError:
        # the official script's failure, unless the rest turns out not canonical: then the general walk
        # meets whatever the official script meets first
        if readers.ground_truth_parts() is None or readers.submission_proposals() is None:
            return None
        raise
    gt_parts = readers.ground_truth_parts()
    if gt_parts is None:
        return None
    proposals = ProposalJoin(joined, gt_parts)
    for piece in readers.submission_pieces():      # (joined while the reader reads the next one)
        if piece is None:
            return None
        proposals.add(piece)
    return proposals.finish()


def _check_matching(matching: str) -> None:
    if matching not in MATCHING_MODES:
        raise ValueError(f"matching must be one of {MATCHING_MODES}, got {matching!r}")


def evaluate_tps(gt_vid: Mapping, gt_part: Mapping, pred_vid: Mapping, pred_part: Mapping,
                 human_iou: float = OFFICIAL_HUMAN_IOU, part_iou: float = OFFICIAL_PART_IOU,
                 matching: str = "official") -> TPSResult:
    """Kinetics-TPS score of a submission (the four official dicts) at one threshold pair."""
    ev = TPSEvaluator(gt_vid, gt_part, pred_vid, pred_part, matching=matching)
    return ev.evaluate(human_iou, part_iou)
