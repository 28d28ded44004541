"""A person track's keypoints as the skeleton model's input: normalised per person, with confidences.

Training (ground-truth keypoints of SynTPS) and inference (keypoints the pose stage predicted on the
parser's tracks) go through this one function, so the model sees the same numbers in both.

A track is ``keypoints (T, 17, 2)`` frame pixels, ``confidences (T, 17)`` in [0, 1] (0: joint unknown)
and ``present (T,)`` (the person was seen in that keyframe). Per frame the centre ``c_t`` is the
confidence-weighted mean of its joints; the track's scale ``s`` is the median over frames of the
confident joints' extent (the longer side of their box), so a person's size and place in the frame do
not matter but their motion does. Channels (:data:`NUM_CHANNELS`) per joint and frame:

- ``(x - c_t) / s``, ``(y - c_t) / s``: the pose (the body's shape in this frame);
- ``(x - c) / s``, ``(y - c) / s`` with ``c`` the mean centre over the track: where the joint is in the
  track's frame of reference, so steps, jumps and bows (the body moving as a whole) stay visible;
- the confidence.

Unknown joints and absent frames are all zeros.
"""

from __future__ import annotations

import numpy as np

NUM_JOINTS = 17
NUM_CHANNELS = 5
#: Joints below this confidence do not count for the centre and the scale.
CONFIDENT = 0.2
#: The scale of a track none of whose joints is confident (keeps the division finite).
MIN_SCALE = 1.0


def track_features(keypoints: np.ndarray, confidences: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``(NUM_CHANNELS, T, 17)`` float32 input of one track (see the module docstring)."""
    kp = np.asarray(keypoints, np.float32)
    conf = np.asarray(confidences, np.float32) * np.asarray(present, np.float32)[:, None]
    t, v = conf.shape
    if kp.shape != (t, v, 2):
        raise ValueError(f"keypoints {kp.shape} do not match confidences {conf.shape}")
    weight = np.where(conf >= CONFIDENT, conf, 0.0)
    total = weight.sum(1)                                              # (T,)
    seen = total > 0
    centre = np.zeros((t, 2), np.float32)
    centre[seen] = (kp[seen] * weight[seen, :, None]).sum(1) / total[seen, None]
    extents = []
    for i in np.flatnonzero(seen):
        pts = kp[i][weight[i] > 0]
        extents.append(float(np.max(pts.max(0) - pts.min(0))))
    scale = max(float(np.median(extents)) if extents else MIN_SCALE, MIN_SCALE)
    mean_centre = centre[seen].mean(0) if seen.any() else np.zeros(2, np.float32)
    out = np.zeros((NUM_CHANNELS, t, v), np.float32)
    out[0:2] = ((kp - centre[:, None, :]) / scale).transpose(2, 0, 1)
    out[2:4] = ((kp - mean_centre[None, None, :]) / scale).transpose(2, 0, 1)
    out[4] = conf
    known = (conf > 0)[None]
    out[:4] *= known                                                    # unknown joints: zeros
    out[:, ~seen] = 0.0                                                 # frames without a confident joint
    return out
