"""Person identities across keyframes: ByteTrack over the parser's person boxes.

The tracker is Roboflow's ``trackers`` package (Apache-2.0, a maintained clean-room ByteTrack; see the
README's dependency section). It is fed each keyframe's detected boxes and scores with the keyframe's
time (``frame index / fps``), so its motion model and its lost-track buffer count seconds whatever the
keyframe step. Every person gets an id: a detection ByteTrack leaves unassigned (below its activation
threshold, or not yet confirmed) gets an id of its own that no other detection shares. Ids are numbered
from 1 in order of first appearance, so they are stable for one video whatever the tracker's counters.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np

from partparse.config import at_least, between


@dataclass
class TrackerConfig:
    """ByteTrack's settings (the ``tracking`` section of a parse recipe).

    ``high_score``: detections at least this sure are matched first and may start tracks (ByteTrack's
    ``high_conf_det_threshold`` and ``track_activation_threshold``); lower ones only continue tracks;
    ``min_iou``: the least IoU between a track's predicted box and a detection for a match;
    ``lost_seconds``: how long a track that is not seen stays open for a match."""

    high_score: Annotated[float, between(0, 1)] = 0.5
    min_iou: Annotated[float, between(0, 1)] = 0.1
    lost_seconds: Annotated[float, at_least(0)] = 2.0


def track_persons(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray], frame_indices: Sequence[int],
                  fps: float, cfg: TrackerConfig | None = None) -> list[np.ndarray]:
    """Track ids ``(N_k,)`` int64 (from 1) of the persons of each keyframe ``k`` (``boxes[k] (N_k, 4)``
    continuous xyxy, ``scores[k] (N_k,)``), in the order given."""
    import supervision as sv
    from trackers import ByteTrackTracker

    cfg = cfg if cfg is not None else TrackerConfig()
    fps = fps if fps > 0 else 30.0
    tracker = ByteTrackTracker(lost_track_buffer=max(1, int(round(cfg.lost_seconds * 30))), frame_rate=fps,
                               track_activation_threshold=cfg.high_score, minimum_consecutive_frames=1,
                               minimum_iou_threshold=cfg.min_iou, high_conf_det_threshold=cfg.high_score)
    raw: list[list[object]] = []             # per keyframe and person: a ByteTrack id, a new tracklet, or None
    for b, s, index in zip(boxes, scores, frame_indices, strict=True):
        b = np.asarray(b, np.float32).reshape(-1, 4)
        s = np.asarray(s, np.float32).reshape(-1)
        labels: list[object] = [None] * len(b)
        det = sv.Detections(xyxy=b.astype(np.float64), confidence=s.astype(np.float64),
                            data={"index": np.arange(len(b))})
        before = {id(t) for t in tracker.tracks}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = tracker.update(det, timestamp=index / fps)
        for i, tid in zip(result.data.get("index", np.arange(0)), result.tracker_id, strict=True):
            if tid >= 0:
                labels[int(i)] = int(tid)
        # ByteTrack names a track only at its second detection: the detection that started it is
        # returned untracked. Remember which tracklet it started, to give it that tracklet's id later.
        for tracklet in (t for t in tracker.tracks if id(t) not in before):
            start = np.asarray(tracklet.get_state_bbox(), np.float32)
            free = [i for i in range(len(b)) if labels[i] is None]
            if free:
                i = min(free, key=lambda j: float(np.abs(b[j] - start).sum()))
                labels[i] = tracklet
        raw.append(labels)
    renumber: dict[object, int] = {}
    out = []
    for labels in raw:
        ids = np.zeros(len(labels), np.int64)
        for i, label in enumerate(labels):
            if label is not None and not isinstance(label, int):
                tid = int(getattr(label, "tracker_id", -1))
                label = tid if tid >= 0 else ("own", id(label))
            key = label if label is not None else ("own", len(renumber), i)
            ids[i] = renumber.setdefault(key, len(renumber) + 1)
        out.append(ids)
    return out
