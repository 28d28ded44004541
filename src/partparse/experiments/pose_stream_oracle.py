"""The pose stream on ground truth: GT boxes, GT keypoints and GT identities, states from the pose stream.

The reference row 'GT boxes + keypoints, pose-stream states' of Table 1, beside the video-level oracle
(:func:`~partparse.experiments.oracle_submissions.video_oracle_submission`): it measures what per-keyframe
states from keypoint trajectories are worth apart from detection, pose estimation and tracking. Keypoints
come from a SynTPS ``keypoints_{split}.json`` (COCO keypoints in the order of each frame's ``humans``,
with ``track_id``), their confidence 1 where known (0 outside the frame).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from partparse.experiments.oracle_submissions import gt_boxes_as_submission
from partparse.io import read_json
from partparse.pipeline.pose_stream import PoseStream, smooth_along_tracks


def keypoints_by_frame(path: str | Path) -> dict[str, dict[str, list[dict]]]:
    """``{video: {frame key: [COCO keypoint annotation, ...]}}`` of a SynTPS ``keypoints_{split}.json``,
    the annotations in the order of the frame's ``humans``."""
    coco = read_json(path)
    images = {im["id"]: im for im in coco["images"]}
    out: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        out[im["video_id"]].setdefault(im["frame_key"], []).append(ann)
    for im in images.values():
        out[im["video_id"]].setdefault(im["frame_key"], [])
    return out


def pose_stream_oracle_submission(gt_vid: Mapping[str, str], gt_part: Mapping[str, Mapping],
                                  keypoints: Mapping[str, Mapping[str, list[dict]]], stream: PoseStream,
                                  smoothing: int = 1, gt_actions: bool = True) -> tuple[dict, dict]:
    """``(pred_vid, pred_part)``: GT boxes, each GT part's state from the pose stream run on the GT
    keypoint tracks (smoothed over ``smoothing`` keyframes), and the GT action (``gt_actions``, as the
    video-level oracle row) or the pose stream's."""
    pred_vid, pred_part = {}, {}
    for vid in gt_vid:
        frames = gt_part[vid]
        keys = sorted(frames)
        kps, confs, scores, ids = [], [], [], []
        for key in keys:
            anns = keypoints.get(vid, {}).get(key, [])
            arr = np.asarray([a["keypoints"] for a in anns], np.float32).reshape(len(anns), 17, 3)
            kps.append(arr[:, :, :2])
            confs.append((arr[:, :, 2] > 0).astype(np.float32))
            scores.append(np.ones(len(anns), np.float32))
            ids.append(np.asarray([int(a["track_id"]) for a in anns], np.int64))
        result = stream.score(kps, confs, scores, ids)
        states = smooth_along_tracks(result.states, ids, smoothing)
        boxes = gt_boxes_as_submission(frames)
        for k, key in enumerate(keys):
            for i, human in enumerate(boxes[key]["humans"]):
                probs = states[k][i] if i < len(states[k]) else {}
                for name, part in human["parts"].items():
                    if name in probs:
                        part["verb"] = [stream.class_names[name][int(np.argmax(probs[name]))]]
                    else:
                        part["verb"] = ["unknown"]
        pred_part[vid] = boxes
        names = stream.class_names["action"]
        pred_vid[vid] = gt_vid[vid] if gt_actions else names[int(np.argmax(result.action))]
    return pred_vid, pred_part
