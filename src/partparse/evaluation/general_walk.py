"""The general walk: the four official JSON dicts flattened into a :class:`FlatEvaluation`, for any input.

This is the metric's route for everything that is not a canonical file pair (dicts handed to
:class:`TPSEvaluator`, and files that :mod:`part_file_decoder` refuses): it touches exactly what the
official script touches (the parts of matched humans only) and so fails, or not, where it fails, with
the same messages. On canonical input it gives the same arrays as the table route (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np

from partparse.data.tps_validation import MAX_HUMANS, check_part_results, errors
from partparse.evaluation.box_iou import part_iou_pairs
from partparse.evaluation.flat_evaluation import (
    CodedValues,
    FlatEvaluation,
    check_videos,
    too_many_humans,
)
from partparse.evaluation.human_assignment import assign_humans, nan_box_error
from partparse.io import InputError, gc_paused


def flatten_general(gt_vid, gt_part, pred_vid, pred_part, corrected: bool = False) -> FlatEvaluation:
    """The general walk: any input the official script takes, touched only where it touches it."""
    check_videos(gt_vid, gt_part, pred_vid, pred_part)
    with gc_paused():
        fr = _collect_frames(gt_vid, gt_part, pred_part)
        try:
            human_pred, human_iou, human_square = assign_humans(fr.gt_boxes, fr.pred_boxes, fr.frame_gt[:, 0],
                                                               fr.frame_gt[:, 1], fr.frame_pred[:, 0],
                                                               fr.frame_pred[:, 1], corrected)
        except InputError as err:
            raise nan_box_error(fr.gt_boxes, fr.pred_boxes, fr.frame_gt[:, 0], fr.frame_gt[:, 1],
                                fr.frame_pred[:, 0], fr.frame_pred[:, 1], fr.frame_where) or err from None
        parts = _collect_parts(fr, human_pred, gt_part, pred_part)
    video_ids = list(gt_vid)
    return FlatEvaluation(
        video_ids=video_ids,
        action_correct=np.array([gt_vid[v] == pred_vid[v] for v in video_ids], dtype=bool),
        video_frames=fr.video_frames, frame_video=fr.frame_video, frame_parts=fr.frame_parts,
        human_frame=fr.human_frame, human_pred=human_pred, human_iou=human_iou,
        human_square=human_square, **parts)


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
    vid = key = None
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
                    raise too_many_humans(vid, key, len(phumans))
                nparts = sum(len(h["parts"]) for h in humans)
                if nparts == 0:
                    total -= 1
                    continue
                rows.append((vi, len(gt_humans), len(humans), len(pred_humans), len(phumans), nparts))
                where.append((vid, key))
                gt_humans.extend(humans)
                pred_humans.extend(phumans)
            video_frames[vi] = total
        gt_boxes, pred_boxes = [h["box"] for h in gt_humans], [h["box"] for h in pred_humans]
    except (KeyError, TypeError, AttributeError, RecursionError) as err:
        raise malformed_entry(err, gt_part, pred_part, vid, key) from None
    table = np.array(rows, dtype=np.int64).reshape(-1, 6)
    for boxes, column in ((gt_boxes, 1), (pred_boxes, 3)):
        try:
            arr = _boxes32(boxes)
        except _BadBox as bad:                     # the frame of the bad box: the row whose humans hold it
            row = int(np.searchsorted(table[:, column], bad.index, side="right")) - 1
            raise malformed_entry(bad, gt_part, pred_part, *where[row]) from None
        if column == 1:
            gt_boxes = arr
        else:
            pred_boxes = arr
    return _Frames(video_frames=video_frames, frame_video=table[:, 0], frame_parts=table[:, 5], frame_where=where,
                   frame_gt=table[:, 1:3], frame_pred=table[:, 3:5],
                   human_frame=np.repeat(np.arange(len(table)), table[:, 2]),
                   gt_boxes=gt_boxes, pred_boxes=pred_boxes, gt_humans=gt_humans, pred_humans=pred_humans)


def malformed_entry(err: BaseException, gt_part, pred_part, vid, key) -> InputError:
    """The error of a walk that failed in frame ``key`` of video ``vid`` (the loop's last values): the first
    problem that :mod:`partparse.data.tps_validation` finds in that frame of either file, which names the
    file and the place (video / frame / person / part), else the exception itself. Runs only on failure."""
    for data, file, submission in ((gt_part, "gt_part_result.json", False),
                                   (pred_part, "pred_part_result.json", True)):
        try:
            frame = data[vid][key]
        except (KeyError, TypeError, IndexError):
            continue
        problems = check_part_results({vid: {key: frame}}, file, submission=submission)
        first = next((p for p in errors(problems) if p.frame is not None), None)   # (not the video id's)
        if first is not None:
            return InputError(f"{first.file} [{first.location}]: {first.message}")
    where = f" [video {vid} / frame {key}]" if vid is not None else ""
    return InputError(f"gt_part_result.json or pred_part_result.json{where}: malformed entry "
                      f"({type(err).__name__}: {err}); run `partparse validate` on both folders")


class _BadBox(ValueError):
    """Box ``index`` of a list is not 4 numbers in the float range."""

    def __init__(self, index: int):
        super().__init__(f"box {index} is not 4 numbers")
        self.index = index


def _first_bad_box(boxes: list, dtype) -> _BadBox:
    """The first box that does not convert on its own (only called once the whole list failed)."""
    for i, box in enumerate(boxes):
        try:
            if np.asarray(box, dtype=dtype).shape != (4,):
                return _BadBox(i)
        except (ValueError, TypeError, OverflowError):
            return _BadBox(i)
    return _BadBox(len(boxes) - 1)


def _boxes32(boxes: list) -> np.ndarray:
    try:
        arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) if boxes else np.zeros((0, 4), np.float32)
    except (ValueError, TypeError, OverflowError):
        raise _first_bad_box(boxes, np.float32) from None
    if arr.shape[0] != len(boxes):
        raise _first_bad_box(boxes, np.float32)
    return arr


def _collect_parts(fr: _Frames, human_pred: np.ndarray, gt_part, pred_part) -> dict:
    """Parts of assigned GT humans and their proposals: one tight Python pass, the rest vectorised.

    (Faster than ``map``/``itemgetter`` passes per field: docs/benchmarks.md, "Timings behind design choices".)
    """
    part_human, part_name, part_nstates, part_nboxes = [], [], [], []
    top_state, gt_boxes = [], []
    prop_part, prop_boxes, prop_ok = [], [], []
    assigned = np.flatnonzero(human_pred >= 0)
    gt_humans, pred_humans = fr.gt_humans, fr.pred_humans
    h = None
    try:
        for h, p in zip(assigned.tolist(), human_pred[assigned].tolist(), strict=True):
            gparts = gt_humans[h]["parts"]
            if not gparts:
                continue
            pget = pred_humans[p]["parts"].get
            k = len(part_human)
            part_human += [h] * len(gparts)          # GT side in bulk, per human
            part_name += gparts
            gvals = list(gparts.values())
            gt_boxes += [g["box"] for g in gvals]
            for name, gpart in zip(gparts, gvals, strict=True):
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
    except (KeyError, TypeError, AttributeError, RecursionError) as err:
        vid, key = fr.frame_where[int(fr.human_frame[h])] if h is not None else (None, None)
        raise malformed_entry(err, gt_part, pred_part, vid, key) from None
    part_human_arr = np.asarray(part_human, dtype=np.int64)
    prop_part_arr = np.asarray(prop_part, dtype=np.int64)
    def frame_of_part(k: int) -> tuple[str, str]:
        return fr.frame_where[int(fr.human_frame[part_human[k]])]

    try:
        gb = _boxes64(gt_boxes)
    except _BadBox as bad:
        raise malformed_entry(bad, gt_part, pred_part, *frame_of_part(bad.index)) from None
    try:
        pb = _boxes64(prop_boxes)
    except _BadBox as bad:
        raise malformed_entry(bad, gt_part, pred_part, *frame_of_part(prop_part[bad.index])) from None
    frame = fr.human_frame[part_human_arr]
    try:    # codes where possible; part_state_accuracy fails on unhashable states as it always did
        top_state = CodedValues.encode(top_state)
    except TypeError:
        pass
    return dict(part_human=part_human_arr, part_name=CodedValues.encode(part_name),
                part_nstates=np.asarray(part_nstates, dtype=np.int64),
                part_nboxes=np.asarray(part_nboxes, dtype=np.int64),
                prop_part=prop_part_arr, prop_iou=part_iou_pairs(gb[prop_part_arr], pb),
                prop_state_ok=np.asarray(prop_ok, dtype=bool), part_top_state=top_state,
                part_video=fr.frame_video[frame],
                part_person=part_human_arr - fr.frame_gt[frame, 0], frame_where=fr.frame_where)


def _boxes64(boxes: list) -> np.ndarray:
    """``(N, 4)`` float64 array of 4-number boxes, fast (``fromiter`` over the flattened numbers)."""
    n = len(boxes)
    if n == 0:
        return np.zeros((0, 4), dtype=np.float64)
    try:
        if sum(map(len, boxes)) == 4 * n:
            return np.fromiter(chain.from_iterable(boxes), dtype=np.float64, count=4 * n).reshape(n, 4)
    except (TypeError, ValueError, OverflowError):
        pass
    raise _first_bad_box(boxes, np.float64)
