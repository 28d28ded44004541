"""Seeded random Kinetics-TPS ground truth and noisy submissions, for tests and benchmarks.

Integer boxes on purpose: IoUs then land on exact fractions (1/2, 3/10 ...) and duplicates create ties,
which is where a re-implementation of the official metric goes wrong.
"""

from __future__ import annotations

import numpy as np

PARTS = ("head", "hip", "left_arm", "right_arm", "left_hand", "right_hand",
         "left_leg", "right_leg", "left_foot", "right_foot")
STATES = ("none", "bend", "lift", "wave", "kick", "hold")
ACTIONS = ("jump", "wave", "kick", "squat")


def _box(rng, w=320, h=240, min_size=4):
    x1, y1 = int(rng.integers(0, w - min_size)), int(rng.integers(0, h - min_size))
    return [x1, y1, int(rng.integers(x1 + min_size - 1, w)), int(rng.integers(y1 + min_size - 1, h))]


def _jitter(rng, box, scale, integer=True):
    out = [v + rng.normal(0, scale) for v in box]
    out = [int(round(v)) for v in out] if integer else [round(float(v), 2) for v in out]
    out[0], out[2] = min(out[0], out[2]), max(out[0], out[2])
    out[1], out[3] = min(out[1], out[3]), max(out[1], out[3])
    return [max(0, v) for v in out]


def random_ground_truth(rng: np.random.Generator, n_videos=20, n_frames=6, max_humans=4, n_parts=10,
                        empty_prob=0.05):
    gt_vid, gt_part = {}, {}
    for v in range(n_videos):
        vid = f"vid{v:05d}_{int(rng.integers(0, 10**6)):06d}"
        gt_vid[vid] = str(rng.choice(ACTIONS))
        frames = {}
        for f in range(n_frames):
            humans = []
            n_h = 0 if rng.random() < empty_prob else int(rng.integers(1, max_humans + 1))
            for _ in range(n_h):
                k = int(rng.integers(0, n_parts + 1)) if rng.random() < 0.2 else n_parts
                names = rng.choice(PARTS[:n_parts], size=min(k, n_parts), replace=False) if k else []
                humans.append({"box": _box(rng),
                               "parts": {str(n): {"box": _box(rng, min_size=2), "verb": str(rng.choice(STATES))}
                                         for n in names}})
            frames[f"img_{5 * f + 1:05d}.json"] = {"humans": humans}
        gt_part[vid] = frames
    return gt_vid, gt_part


def noisy_submission(rng: np.random.Generator, gt_vid, gt_part, box_noise=6.0, state_acc=0.7, action_acc=0.8,
                     max_proposals=3, false_positives=2, missing_frame_prob=0.02, duplicate_prob=0.1,
                     integer=True):
    pred_vid = {vid: (a if rng.random() < action_acc else str(rng.choice(ACTIONS))) for vid, a in gt_vid.items()}
    pred_part = {}
    for vid, frames in gt_part.items():
        pframes = {}
        for key, frame in frames.items():
            if rng.random() < missing_frame_prob:
                continue
            humans = []
            for gh in frame["humans"]:
                if rng.random() < 0.1:
                    continue  # missed person
                ph = {"box": _jitter(rng, gh["box"], box_noise * (4 if rng.random() < 0.1 else 1), integer),
                      "parts": {}}
                for name, gp in gh["parts"].items():
                    if rng.random() < 0.05:
                        continue
                    k = int(rng.integers(1, max_proposals + 1))
                    boxes = [_jitter(rng, gp["box"], box_noise, integer) for _ in range(k)]
                    verbs = [gp["verb"] if rng.random() < state_acc else str(rng.choice(STATES)) for _ in range(k)]
                    ph["parts"][name] = {"box": boxes, "verb": verbs}
                humans.append(ph)
                if rng.random() < duplicate_prob:
                    humans.append({"box": list(ph["box"]), "parts": {}})
            for _ in range(int(rng.integers(0, false_positives + 1))):
                humans.append({"box": _box(rng), "parts": {}})
            rng.shuffle(humans)
            pframes[key] = {"humans": humans[:10]}
        pred_part[vid] = pframes
    return pred_vid, pred_part


def perfect_submission(gt_vid, gt_part):
    """The ground truth written as a submission (one proposal per part)."""
    pred_part = {vid: {key: {"humans": [{"box": list(h["box"]),
                                          "parts": {n: {"box": [list(p["box"])], "verb": [p["verb"]]}
                                                    for n, p in h["parts"].items()}}
                                         for h in frame["humans"]]}
                       for key, frame in frames.items()}
                 for vid, frames in gt_part.items()}
    return dict(gt_vid), pred_part
