"""Submissions built from the ground truth, for the report's measurements: the oracle boxes that measure
part-state predictors apart from detection, the class-prior baseline on them, the video-level oracle
(the upper bound of the video-level transform), and the ground truth itself written as a submission.
"""

from __future__ import annotations

from collections.abc import Mapping

from partparse.data.part_labels import video_part_states
from partparse.pipeline.part_state_transfer import ClassPriorPartStates, apply_video_states


def gt_boxes_as_submission(gt_frames: Mapping[str, Mapping]) -> dict:
    """A video's GT persons and parts in submission layout (one proposal per part, states dropped):
    the *oracle boxes* used to measure part-state predictors apart from detection."""
    return {key: {"humans": [{"box": list(h["box"]),
                              "parts": {n: {"box": [list(p["box"])], "verb": []} for n, p in h["parts"].items()}}
                             for h in frame["humans"]]}
            for key, frame in gt_frames.items()}


def oracle_box_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                          actions: Mapping[str, str], states: Mapping[str, Mapping[str, str]]) -> tuple[dict, dict]:
    """``(pred_vid, pred_part)`` with GT boxes, the given actions and per-video ``{coarse: state}``."""
    pred_part = {vid: apply_video_states(gt_boxes_as_submission(gt_part[vid]), states.get(vid, {}))
                 for vid in gt_vid}
    return {vid: actions[vid] for vid in gt_vid}, pred_part


def class_prior_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                           prior: ClassPriorPartStates) -> tuple[dict, dict]:
    """The class-prior baseline with GT boxes and GT actions (isolates the part-state term)."""
    return oracle_box_submission(gt_vid, gt_part, gt_vid, {v: prior.predict(a) for v, a in gt_vid.items()})


def video_oracle_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> tuple[dict, dict]:
    """The upper bound of the video-level transform: each video's true majority state per coarse part,
    GT boxes and GT actions."""
    return oracle_box_submission(gt_vid, gt_part, gt_vid, {v: video_part_states(gt_part[v]) for v in gt_vid})


def ground_truth_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping]) -> tuple[dict, dict]:
    """The ground truth written as a submission: GT actions, boxes and each part's own state."""
    pred_part = {vid: {key: {"humans": [{"box": list(h["box"]),
                                         "parts": {n: {"box": [list(p["box"])], "verb": [p["verb"]]}
                                                   for n, p in h["parts"].items()}}
                                        for h in frame["humans"]]}
                       for key, frame in gt_part[vid].items()}
                 for vid in gt_vid}
    return dict(gt_vid), pred_part
