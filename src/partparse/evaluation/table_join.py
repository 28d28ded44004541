"""Join the ground-truth and submission tables (:mod:`metric_tables`) into a :class:`FlatEvaluation`.

Array work only, in two steps. :func:`join_humans` needs only the humans of both sides: GT frames find
their predicted frame (a video whose frame keys are the GT's, in order, as one range of rows; any other by
its keys), the assignment runs on the human boxes (:func:`assign_humans`), and each GT part of an assigned
human finds the part of the same name of its prediction in a table of ``(prediction, part name)`` integer
keys. :func:`join_proposals` adds the parts' boxes and states: each proposal's IoU with its GT part and
whether its state is right. (:meth:`TPSEvaluator.from_folders` runs the first step while the readers still
read the second's tables.) The rows come out in the order of the general walk (:mod:`general_walk`), so the
official sums keep their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from partparse.data.tps_validation import MAX_HUMANS
from partparse.evaluation.box_iou import part_iou_pairs
from partparse.evaluation.flat_evaluation import (
    CodedValues,
    FlatEvaluation,
    GroundTruthStates,
    check_videos,
    segment_positions,
    segment_starts,
    too_many_humans,
)
from partparse.evaluation.human_assignment import assign_humans, nan_box_error
from partparse.evaluation.metric_tables import (
    GroundTruthHumans,
    GroundTruthParts,
    GroundTruthTables,
    SubmissionHumans,
    SubmissionProposals,
    SubmissionTables,
)
from partparse.io import InputError


def join_tables(gt: GroundTruthTables, pred: SubmissionTables, corrected: bool = False) -> FlatEvaluation:
    """The metric's flat arrays; raises :class:`InputError` where the official script fails."""
    return join_proposals(join_humans(gt, pred, corrected), gt, pred)


@dataclass
class HumanJoin:
    """The join up to the humans: the evaluated frames, the assignment of every GT human, and for each GT
    part of an assigned human the predicted part of the same name (what needs no proposal)."""

    gt: GroundTruthHumans
    video_ids: list[str]
    head: dict                  # the FlatEvaluation fields known at this point
    gt_row: np.ndarray          # (P,) row of gt.part_* of each scored part
    hit: np.ndarray             # scored parts whose prediction has a part of that name
    row: np.ndarray             # that part (row of the submission's part_* tables), for each of ``hit``
    gt_part_video: np.ndarray   # video of every GT part (all of gt.part_*)


def join_humans(gt: GroundTruthHumans, pred: SubmissionHumans, corrected: bool = False) -> HumanJoin:
    """Everything of the join that the humans of both sides decide (:class:`HumanJoin`); raises
    :class:`InputError` where the official script fails on them."""
    pred_videos = {v: i for i, v in enumerate(pred.video_ids)}
    # (every GT video is in gt_part_result.json: the table reader found each one)
    check_videos(gt.gt_vid, gt.gt_vid, pred.pred_vid, pred_videos)
    video_ids = list(gt.gt_vid)
    fr = _Frames(gt, pred, video_ids)
    ev = fr.evaluated
    g_start, g_count = fr.gt_start[ev], gt.frame_humans[ev]
    p_start, p_count = fr.pred_start[ev], fr.pred_humans[ev]
    try:
        human_pred, human_iou, human_square = assign_humans(gt.human_box, pred.human_box, g_start, g_count,
                                                           p_start, p_count, corrected)
    except InputError as err:                 # (NaN boxes) say where
        where = [(fr.video_id[f], gt.frame_key[f]) for f in ev.tolist()]
        raise nan_box_error(gt.human_box, pred.human_box, g_start, g_count, p_start, p_count, where) or err from None
    human_frame = np.repeat(np.arange(len(ev)), g_count)
    human_row = np.repeat(g_start, g_count) + segment_positions(g_count)   # row of gt.human_*

    # GT parts of assigned humans (human order, then dict order)
    assigned = np.flatnonzero(human_pred >= 0)
    n_parts = gt.human_parts[human_row[assigned]]
    part_human = np.repeat(assigned, n_parts)
    gt_row = np.repeat(segment_starts(gt.human_parts)[human_row[assigned]], n_parts) + segment_positions(n_parts)
    name = gt.part_name[gt_row]
    # the predicted part of the same name (GT name codes; -1: a name the GT does not use)
    found = _part_of(pred.human_parts, _recode(pred.names, gt.names)[pred.part_name], human_pred[part_human], name,
                     max(len(gt.names), 1))
    hit = np.flatnonzero(found >= 0)

    part_frame = human_frame[part_human]
    frame_video = fr.video[ev]
    head = dict(
        video_ids=video_ids,
        action_correct=np.array([gt.gt_vid[v] == pred.pred_vid[v] for v in video_ids], dtype=bool),
        video_frames=fr.counted, frame_video=frame_video, frame_parts=fr.parts[ev],
        human_frame=human_frame, human_pred=human_pred, human_iou=human_iou, human_square=human_square,
        part_human=part_human, part_name=CodedValues(name, gt.names),
        part_video=frame_video[part_frame], part_person=human_row[part_human] - g_start[part_frame],
        frame_where=[(fr.video_id[f], gt.frame_key[f]) for f in ev.tolist()])
    return HumanJoin(gt=gt, video_ids=video_ids, head=head, gt_row=gt_row, hit=hit, row=found[hit],
                     gt_part_video=np.repeat(np.repeat(fr.video, gt.frame_humans), gt.human_parts))


def join_proposals(joined: HumanJoin, gt_parts: GroundTruthParts, pred: SubmissionProposals) -> FlatEvaluation:
    """The rest of the join: each scored part's proposals, their IoU with the GT part and whether their
    state is right (the rows in the order of the general walk, so the official sums keep their order)."""
    proposals = ProposalJoin(joined, gt_parts)
    proposals.add(pred)
    return proposals.finish()


class _Piece(NamedTuple):
    """What :meth:`ProposalJoin.add` found in a piece of the submission's proposals."""

    scored: np.ndarray      # the scored parts whose prediction is in the piece (positions in HumanJoin.hit)
    n_states: np.ndarray    # their prediction's states, boxes and first state (the submission's code, or -1)
    n_boxes: np.ndarray
    top: np.ndarray
    m: np.ndarray           # proposals the official loop looks at, per part
    iou: np.ndarray         # (sum m,) each proposal's IoU with its GT part
    state_ok: np.ndarray    # (sum m,) its state is the GT part's


class ProposalJoin:
    """:func:`join_proposals` a piece of the submission's proposals at a time, as its reader hands them on
    (pieces of consecutive parts, in file order: :meth:`add`); :meth:`finish` puts the pieces' rows in
    the order of the general walk. A piece's state codes are those of the submission's states so far,
    which only grow (first-seen order), so codes keep their meaning from piece to piece."""

    def __init__(self, joined: HumanJoin, gt_parts: GroundTruthParts):
        self.joined, self.gt_parts = joined, gt_parts
        self.parts_done = 0                                          # predicted parts received so far
        self.pred_states: list[str] = []
        self.pieces: list[_Piece] = []

    def add(self, pred: SubmissionProposals) -> None:
        """The next piece: the proposals of the next ``len(pred.part_boxes)`` predicted parts."""
        gt_parts, start, stop = self.gt_parts, self.parts_done, self.parts_done + len(pred.part_boxes)
        self.parts_done, self.pred_states = stop, pred.states
        scored = np.flatnonzero((self.joined.row >= start) & (self.joined.row < stop))
        row = self.joined.row[scored] - start
        state_start, box_start = segment_starts(pred.part_states)[row], segment_starts(pred.part_boxes)[row]
        n_states, n_boxes = pred.part_states[row], pred.part_boxes[row]
        top = np.full(len(row), -1, dtype=np.int64)
        top[n_states > 0] = pred.state[state_start[n_states > 0]]
        m = np.minimum(n_states, n_boxes)
        first = segment_starts(m)                                    # each part's first proposal
        prop = np.arange(int(m.sum()))
        prop_state = pred.state[prop + np.repeat(state_start - first, m)]
        prop_box = prop + np.repeat(box_start - first, m)            # row of pred.box
        gt_prop = np.repeat(self.joined.gt_row[self.joined.hit[scored]], m)
        # (states compared as the submission's codes: a GT state it has not used so far codes -1, equals none)
        gt_state = _recode(gt_parts.states, pred.states)[gt_parts.part_state[gt_prop]]
        self.pieces.append(_Piece(scored, n_states, n_boxes, top, m,
                                  part_iou_pairs(gt_parts.part_box, pred.box, gt_prop, prop_box),
                                  prop_state == gt_state))

    def finish(self) -> FlatEvaluation:
        """The flat arrays, once every piece is added."""
        joined, gt_parts, pieces = self.joined, self.gt_parts, self.pieces
        if sum(len(p.scored) for p in pieces) != len(joined.hit):
            raise ValueError("finish() before the proposals of every scored part were added")
        gt_known = set(gt_parts.states)
        states = gt_parts.states + [s for s in self.pred_states if s not in gt_known]  # GT's, then the submission's
        recode = _recode(self.pred_states, states)
        hit, n_scored = joined.hit, len(joined.gt_row)
        n_states, n_boxes = np.zeros(n_scored, dtype=np.int64), np.zeros(n_scored, dtype=np.int64)
        top = np.full(n_scored, -1, dtype=np.int64)
        m = np.zeros(len(hit), dtype=np.int64)
        for p in pieces:
            n_states[hit[p.scored]], n_boxes[hit[p.scored]], m[p.scored] = p.n_states, p.n_boxes, p.m
            top[hit[p.scored[p.n_states > 0]]] = recode[p.top[p.n_states > 0]]
        iou, state_ok = (np.concatenate([np.zeros(0, dtype=dtype), *(getattr(p, field) for p in pieces)])
                         for field, dtype in (("iou", np.float64), ("state_ok", bool)))
        scored = np.concatenate([np.zeros(0, dtype=np.int64), *(p.scored for p in pieces)])
        if (scored[1:] < scored[:-1]).any():    # a piece holds a part scored before one of the piece before
            first = segment_starts(m)
            at = np.concatenate([np.zeros(0, dtype=np.int64), *(
                np.repeat(first[p.scored] - segment_starts(p.m), p.m) + np.arange(int(p.m.sum())) for p in pieces)])
            iou[at], state_ok[at] = iou.copy(), state_ok.copy()
        return FlatEvaluation(
            **joined.head, part_nstates=n_states, part_nboxes=n_boxes, prop_part=np.repeat(hit, m), prop_iou=iou,
            prop_state_ok=state_ok, part_top_state=CodedValues(top, states),
            gt_states=GroundTruthStates(
                part_video=joined.gt_part_video, part_name=joined.gt.part_name, part_state=gt_parts.part_state,
                names=joined.gt.names, states=states))


class _Frames:
    """Per GT frame: its predicted frame and the official counting rules (frames with no GT human are
    dropped; a frame the submission lacks counts 0; a predicted frame whose humans have no parts is
    dropped)."""

    def __init__(self, gt: GroundTruthHumans, pred: SubmissionHumans, video_ids: list[str]):
        self.video = np.repeat(np.arange(len(video_ids)), gt.video_frames)
        self.video_id = [v for v, n in zip(video_ids, gt.video_frames.tolist(), strict=True) for _ in range(n)]
        pred_frame = _predicted_frames(gt, pred, video_ids)
        has_humans = gt.frame_humans > 0
        predicted = pred_frame >= 0
        self.pred_humans = np.zeros(len(pred_frame), dtype=np.int64)
        self.pred_humans[predicted] = pred.frame_humans[pred_frame[predicted]]
        self.pred_start = np.zeros(len(pred_frame), dtype=np.int64)
        self.pred_start[predicted] = segment_starts(pred.frame_humans)[pred_frame[predicted]]
        over = np.flatnonzero(has_humans & predicted & (self.pred_humans > MAX_HUMANS))
        if len(over):
            f = int(over[0])
            raise too_many_humans(self.video_id[f], gt.frame_key[f], int(self.pred_humans[f]))
        self.gt_start = segment_starts(gt.frame_humans)
        part_cum = np.concatenate(([0], np.cumsum(gt.human_parts)))
        self.parts = part_cum[self.gt_start + gt.frame_humans] - part_cum[self.gt_start]
        dropped = ~has_humans | (predicted & (self.parts == 0))
        self.counted = gt.video_frames - np.bincount(self.video[dropped], minlength=len(video_ids))
        self.evaluated = np.flatnonzero(has_humans & predicted & (self.parts > 0))


def _predicted_frames(gt: GroundTruthHumans, pred: SubmissionHumans, video_ids: list[str]) -> np.ndarray:
    """Per GT frame, the row of the submission's frame of that video and key, or -1. A video whose frame
    keys are the GT's, in the GT's order (what a submission written frame by frame holds), is one range
    of rows; only other videos look their keys up."""
    pred_video = {v: i for i, v in enumerate(pred.video_ids)}   # (every GT video is there: check_videos)
    gt_first, pred_first = segment_starts(gt.video_frames).tolist(), segment_starts(pred.video_frames).tolist()
    gt_count, pred_count = gt.video_frames.tolist(), pred.video_frames.tolist()
    out = np.full(len(gt.frame_key), -1, dtype=np.int64)
    for i, video in enumerate(video_ids):
        j = pred_video[video]
        g0, gn, p0, pn = gt_first[i], gt_count[i], pred_first[j], pred_count[j]
        gt_keys, pred_keys = gt.frame_key[g0:g0 + gn], pred.frame_key[p0:p0 + pn]
        if gt_keys == pred_keys:
            out[g0:g0 + gn] = np.arange(p0, p0 + pn)
        elif gn:
            row = {key: p0 + r for r, key in enumerate(pred_keys)}
            out[g0:g0 + gn] = [row.get(key, -1) for key in gt_keys]
    return out


DENSE_LOOKUP = 1 << 23  # (prediction, name) pairs up to which _part_of uses a table (32 MB of int32)


def _part_of(human_parts: np.ndarray, part_name: np.ndarray, owner: np.ndarray, name: np.ndarray,
             n_names: int) -> np.ndarray:
    """For each ``(owner[i], name[i])``, the row of the part of that name among the parts of prediction
    ``owner[i]`` (``human_parts`` parts each, names ``part_name`` coded below ``n_names``), or -1.

    A prediction has at most one part of a name (they are the keys of its dict), so a dense table over
    (prediction, name) holds every part; it is one scatter and one gather. Beyond ``DENSE_LOOKUP``
    entries (thousands of part names) the keys are sorted and searched instead.
    """
    rows = np.flatnonzero(part_name >= 0)
    keys = np.repeat(np.arange(len(human_parts)), human_parts)[rows] * n_names + part_name[rows]
    wanted = owner * n_names + name
    size = len(human_parts) * n_names
    if size <= DENSE_LOOKUP:
        table = np.full(size, -1, dtype=np.int32)
        table[keys] = rows
        return table[wanted].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[pos] == wanted, rows[pos], -1)


def _recode(vocab: list[str], into: list[str]) -> np.ndarray:
    """For each entry of ``vocab``, its code in ``into`` (-1 if absent)."""
    index = {v: i for i, v in enumerate(into)}
    return np.array([index.get(v, -1) for v in vocab], dtype=np.int64)
