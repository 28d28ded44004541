"""Flatten the official JSON dicts into arrays once, so the Kinetics-TPS metric runs in NumPy.

Layout (one row per item, GT order everywhere):

* evaluated frames: GT frames with humans that the submission also has;
* GT humans of those frames, with the prediction the assignment gave them and its IoU;
* GT parts of assigned humans, with the number of predicted states ``N_p``;
* proposals of those parts, with their IoU to the GT part and whether their state is right.

Only the thresholds are left for :meth:`FlatEvaluation.video_psc`, which rebuilds the official sums in
the official order (see :func:`sequential_segment_sum`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from partparse.evaluation.box_iou import human_iou_matrix_pairs, part_iou_pairs
from partparse.evaluation.human_assignment import assign_frames
from partparse.io import InputError, gc_paused

MAX_HUMANS = 10
MAX_PROPOSALS = 5


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


def _positions(segment_sizes: np.ndarray) -> np.ndarray:
    """0..size-1 within each segment, for consecutive segments of the given sizes."""
    starts = np.repeat(np.cumsum(segment_sizes) - segment_sizes, segment_sizes)
    return np.arange(int(segment_sizes.sum())) - starts


@dataclass
class FlatEvaluation:
    video_ids: list[str]
    action_correct: np.ndarray        # (V,) bool
    video_frames: np.ndarray          # (V,) frames counted in the PSC denominator
    frame_video: np.ndarray           # (F,) video of each evaluated frame
    frame_parts: np.ndarray           # (F,) GT parts in the frame (> 0)
    human_frame: np.ndarray           # (H,) evaluated frame of each GT human
    human_pred: np.ndarray            # (H,) assigned prediction (index into the flattened predictions) or -1
    human_iou: np.ndarray             # (H,) float32 IoU of the assigned pair
    human_square: np.ndarray          # (H,) the frame's IoU matrix needed no padding (float32 compare)
    part_human: np.ndarray            # (P,) GT human of each scored part (assigned humans only)
    part_nstates: np.ndarray          # (P,) N_p, 0 when the prediction lacks the part
    part_nboxes: np.ndarray           # (P,) number of proposal boxes
    part_name: list[str]              # (P,) body part name
    prop_part: np.ndarray             # (Q,) part of each proposal
    prop_iou: np.ndarray              # (Q,) float64 IoU with the GT part (-1 if disjoint)
    prop_state_ok: np.ndarray         # (Q,) proposal state equals GT state
    part_top_state: list              # (P,) state of the first proposal, or None
    part_video: np.ndarray            # (P,) video of each scored part
    part_person: np.ndarray           # (P,) index of the part's person in its GT frame
    frame_where: list[tuple[str, str]]  # (video, frame key) of each evaluated frame

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
                raise InputError(f"submission [video {v} / frame {fr} / person {person} / part {part}]: {why}")

    def video_psc(self, human_iou: float, part_iou: float) -> np.ndarray:
        """PSC of every GT video at the given thresholds, bit-identical to the official loop."""
        score, _ = self.part_scores(human_iou, part_iou)
        n_humans, n_frames, n_videos = len(self.human_frame), len(self.frame_video), len(self.video_ids)
        part_pos = _positions(np.bincount(self.part_human, minlength=n_humans))
        human_sum = sequential_segment_sum(score, self.part_human, part_pos, n_humans)
        human_pos = _positions(np.bincount(self.human_frame, minlength=n_frames))
        frame_sum = sequential_segment_sum(human_sum, self.human_frame, human_pos, n_frames)
        frame_avg = frame_sum / self.frame_parts
        frame_pos = _positions(np.bincount(self.frame_video, minlength=n_videos))
        video_sum = sequential_segment_sum(frame_avg, self.frame_video, frame_pos, n_videos)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.video_frames > 0, video_sum / np.maximum(self.video_frames, 1), 1.0)


def flatten_for_tps(gt_vid, gt_part, pred_vid, pred_part, corrected: bool = False) -> FlatEvaluation:
    """Build a :class:`FlatEvaluation`; raises :class:`InputError` where the official script would fail."""
    _check_videos(gt_vid, gt_part, pred_vid, pred_part)
    with gc_paused():
        frames = _collect_frames(gt_vid, gt_part, pred_part)
        human_pred, human_iou, human_square = _assign_humans(frames, corrected)
        parts = _collect_parts(frames, human_pred)
    video_ids = list(gt_vid)
    return FlatEvaluation(
        video_ids=video_ids,
        action_correct=np.array([gt_vid[v] == pred_vid[v] for v in video_ids], dtype=bool),
        video_frames=frames.video_frames, frame_video=frames.frame_video, frame_parts=frames.frame_parts,
        human_frame=frames.human_frame, human_pred=human_pred, human_iou=human_iou,
        human_square=human_square, **parts)


def _check_videos(gt_vid, gt_part, pred_vid, pred_part) -> None:
    if not gt_vid:
        raise InputError("gt_vid_result.json: no videos to score (the official script divides by zero here)")
    for name, table, what in (("gt_part_result.json", gt_part, "ground truth"),
                              ("pred_vid_result.json", pred_vid, "submission"),
                              ("pred_part_result.json", pred_part, "submission")):
        missing = [v for v in gt_vid if v not in table]
        if missing:
            raise InputError(f"{name}: {what} lacks {len(missing)} of the {len(gt_vid)} videos of "
                             f"gt_vid_result.json (first: {missing[0]}); the official evaluator stops here")


@dataclass
class _Frames:
    video_frames: np.ndarray
    frame_video: np.ndarray
    frame_parts: np.ndarray
    frame_where: list            # (video, frame key)
    frame_gt: np.ndarray         # (F, 2) first GT human, count
    frame_pred: np.ndarray       # (F, 2) first prediction, count
    human_frame: np.ndarray
    gt_boxes: np.ndarray         # (H, 4) float32
    pred_boxes: np.ndarray       # (R, 4) float32
    gt_humans: list              # GT human dicts
    pred_humans: list            # predicted human dicts


def _collect_frames(gt_vid, gt_part, pred_part) -> _Frames:
    video_frames = np.zeros(len(gt_vid), dtype=np.int64)
    rows, where, gt_humans, pred_humans = [], [], [], []
    try:
        for vi, vid in enumerate(gt_vid):
            gframes, pframes = gt_part[vid], pred_part[vid]
            total = len(gframes)
            for key, frame in gframes.items():
                humans = frame["humans"]
                if not humans:
                    total -= 1
                    continue
                if key not in pframes:
                    continue                      # counted, scores 0
                phumans = pframes[key]["humans"]
                if len(phumans) > MAX_HUMANS:
                    raise InputError(f"pred_part_result.json [video {vid} / frame {key}]: {len(phumans)} humans; "
                                     f"the official evaluator allows at most {MAX_HUMANS}")
                nparts = sum(len(h["parts"]) for h in humans)
                if nparts == 0:
                    total -= 1
                    continue
                rows.append((vi, len(gt_humans), len(humans), len(pred_humans), len(phumans), nparts))
                where.append((vid, key))
                gt_humans.extend(humans)
                pred_humans.extend(phumans)
            video_frames[vi] = total
        gt_boxes = _boxes32([h["box"] for h in gt_humans], "gt_part_result.json")
        pred_boxes = _boxes32([h["box"] for h in pred_humans], "pred_part_result.json")
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"malformed ground truth or submission ({type(err).__name__}: {err}); "
                         "run `partparse validate` on both folders for the exact place") from None
    table = np.array(rows, dtype=np.int64).reshape(-1, 6)
    return _Frames(video_frames=video_frames, frame_video=table[:, 0], frame_parts=table[:, 5], frame_where=where,
                   frame_gt=table[:, 1:3], frame_pred=table[:, 3:5],
                   human_frame=np.repeat(np.arange(len(table)), table[:, 2]),
                   gt_boxes=gt_boxes, pred_boxes=pred_boxes, gt_humans=gt_humans, pred_humans=pred_humans)


def _boxes32(boxes: list, file: str) -> np.ndarray:
    try:
        arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) if boxes else np.zeros((0, 4), np.float32)
    except (ValueError, TypeError):
        raise InputError(f"{file}: a human 'box' is not 4 numbers; run `partparse validate`") from None
    if arr.shape[0] != len(boxes):
        raise InputError(f"{file}: a human 'box' is not 4 numbers; run `partparse validate`")
    return arr


def _assign_humans(fr: _Frames, corrected: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official assignment of every evaluated frame; per GT human (prediction, iou32, square)."""
    gns, pns = fr.frame_gt[:, 1], fr.frame_pred[:, 1]
    pair_iou = human_iou_matrix_pairs(fr.gt_boxes, fr.pred_boxes, fr.frame_gt[:, 0], gns, fr.frame_pred[:, 0], pns)
    if corrected:
        pair_iou = np.where(pair_iou < 0, np.float32(0.0), pair_iou)
    if np.isnan(pair_iou).any():
        raise InputError("a human box has NaN coordinates; the official evaluator fails in the assignment")
    column, iou = assign_frames(pair_iou, gns, pns)
    first_pred = fr.frame_pred[fr.human_frame, 0]
    pred = np.where(column >= 0, first_pred + column, -1)
    square = (gns == pns)[fr.human_frame]
    return pred, iou, square


def _collect_parts(fr: _Frames, human_pred: np.ndarray) -> dict:
    """Parts of assigned GT humans and their proposals: one tight Python pass, the rest vectorised.

    (A version with ``map``/``itemgetter`` passes per field measured 2x slower than this single loop.)
    """
    part_human, part_name, part_nstates, part_nboxes = [], [], [], []
    top_state, gt_boxes = [], []
    prop_part, prop_boxes, prop_ok = [], [], []
    assigned = np.flatnonzero(human_pred >= 0)
    gt_humans, pred_humans = fr.gt_humans, fr.pred_humans
    try:
        for h, p in zip(assigned.tolist(), human_pred[assigned].tolist()):
            gparts = gt_humans[h]["parts"]
            if not gparts:
                continue
            pget = pred_humans[p]["parts"].get
            k = len(part_human)
            part_human += [h] * len(gparts)          # GT side in bulk, per human
            part_name += gparts
            gvals = list(gparts.values())
            gt_boxes += [g["box"] for g in gvals]
            for name, gpart in zip(gparts, gvals):
                pp = pget(name)
                if pp is None:
                    part_nstates.append(0)
                    part_nboxes.append(0)
                    top_state.append(None)
                else:
                    verbs, boxes = pp["verb"], pp["box"]
                    nv, nb = len(verbs), len(boxes)
                    part_nstates.append(nv)
                    part_nboxes.append(nb)
                    top_state.append(verbs[0] if nv else None)
                    m = nb if nb < nv else nv
                    if m == 1:
                        prop_part.append(k)
                        prop_boxes.append(boxes[0])
                        prop_ok.append(verbs[0] == gpart["verb"])
                    elif m:
                        gverb = gpart["verb"]
                        prop_part += [k] * m
                        prop_boxes += boxes[:m]
                        prop_ok += [v == gverb for v in verbs[:m]]
                k += 1
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"malformed part entry ({type(err).__name__}: {err}); run `partparse validate`") from None
    part_human_arr = np.asarray(part_human, dtype=np.int64)
    prop_part_arr = np.asarray(prop_part, dtype=np.int64)
    gb = _boxes64(gt_boxes, "gt_part_result.json")
    pb = _boxes64(prop_boxes, "pred_part_result.json")
    frame = fr.human_frame[part_human_arr]
    return dict(part_human=part_human_arr, part_name=part_name,
                part_nstates=np.asarray(part_nstates, dtype=np.int64),
                part_nboxes=np.asarray(part_nboxes, dtype=np.int64),
                prop_part=prop_part_arr, prop_iou=part_iou_pairs(gb[prop_part_arr], pb),
                prop_state_ok=np.asarray(prop_ok, dtype=bool), part_top_state=top_state,
                part_video=fr.frame_video[frame],
                part_person=part_human_arr - fr.frame_gt[frame, 0], frame_where=fr.frame_where)


def _boxes64(boxes: list, file: str) -> np.ndarray:
    """``(N, 4)`` float64 array of 4-number boxes, fast (``fromiter`` over the flattened numbers)."""
    n = len(boxes)
    if n == 0:
        return np.zeros((0, 4), dtype=np.float64)
    try:
        if sum(map(len, boxes)) == 4 * n:
            return np.fromiter(chain.from_iterable(boxes), dtype=np.float64, count=4 * n).reshape(n, 4)
    except (TypeError, ValueError):
        pass
    raise InputError(f"{file}: a part 'box' is not 4 numbers; run `partparse validate`")
