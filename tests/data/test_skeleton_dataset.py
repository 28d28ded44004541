"""Skeleton tracks from SynTPS ground truth: joining, features, corruption, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.data.skeleton_dataset import (
    JOINT_FLIP,
    SkeletonAugmentConfig,
    SkeletonLabels,
    SkeletonTrackDataset,
    corrupt,
    part_flip,
    read_tracks,
    skeleton_collate,
)
from partparse.data.skeleton_features import NUM_CHANNELS, track_features
from partparse.data.vocabulary import BODY_PARTS
from partparse.io import read_json


def _random_track(t: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(50, 150, (t, 17, 2)).astype(np.float32)
    return kp, np.ones((t, 17), np.float32), np.ones(t, bool)


def test_pose_channels_ignore_where_and_how_large_the_person_is():
    kp, conf, present = _random_track()
    a = track_features(kp, conf, present)
    b = track_features(kp * 3 + np.array([40, -7], np.float32), conf, present)
    assert a.shape == (NUM_CHANNELS, 6, 17)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_motion_of_the_whole_body_stays_in_the_track_channels():
    kp, conf, present = _random_track()
    moved = kp + np.arange(6, dtype=np.float32)[:, None, None] * np.array([10, 0], np.float32)
    a, b = track_features(kp, conf, present), track_features(moved, conf, present)
    np.testing.assert_allclose(a[0:2], b[0:2], atol=1e-5)          # the body's shape per frame: unchanged
    assert np.abs(a[2] - b[2]).max() > 0.1                          # its place in the track: moves


def test_unknown_joints_and_absent_frames_are_zeros():
    kp, conf, present = _random_track()
    conf[:, 3] = 0
    present[2] = False
    x = track_features(kp, conf, present)
    assert not x[:, :, 3].any() and not x[:, 2].any()
    assert x[4, 0, 0] == 1.0


def test_flipping_swaps_joints_and_left_right_part_labels_together():
    perm = part_flip(BODY_PARTS)
    assert [BODY_PARTS[i] for i in perm][:4] == ["head", "hip", "right_arm", "left_arm"]
    assert JOINT_FLIP[5] == 6 and JOINT_FLIP[0] == 0


@pytest.fixture(scope="module")
def tracks(tiny_dataset):
    return read_tracks(tiny_dataset, "train")


def test_tracks_join_keypoints_and_part_states_of_the_ground_truth(tiny_dataset, tracks):
    found, labels = tracks
    gt_vid = read_json(tiny_dataset / "gt_train" / "gt_vid_result.json")
    gt_part = read_json(tiny_dataset / "gt_train" / "gt_part_result.json")
    assert found and labels.actions == sorted(set(gt_vid.values()))
    assert {t.video_id for t in found} == set(gt_vid)
    # every annotated person of every frame is in exactly one track, with its part states
    persons = sum(len(f["humans"]) for frames in gt_part.values() for f in frames.values())
    assert sum(int(t.present.sum()) for t in found) == persons
    track = found[0]
    key = sorted(gt_part[track.video_id])[int(np.flatnonzero(track.present)[0])]
    k = int(np.flatnonzero(track.present)[0])
    states = {p: labels.parts[p][s] for p, s in zip(labels.parts, track.states[k], strict=True) if s >= 0}
    humans = gt_part[track.video_id][key]["humans"]
    assert any({n: p["verb"] for n, p in h["parts"].items() if n in labels.parts} == states for h in humans)
    assert SkeletonLabels.from_dict(labels.to_dict()) == labels


def test_corruption_changes_inputs_but_keeps_labels_of_seen_frames(tracks):
    found, labels = tracks
    track = found[0]
    cfg = SkeletonAugmentConfig(flip=0.0, drop_frame=0.0)
    kp, conf, present, states = corrupt(track, cfg, np.random.default_rng(0), list(labels.parts))
    known = track.visibility > 0
    assert not np.allclose(kp[known], track.keypoints[known])
    assert conf.max() <= 1.0 and conf[~known].max(initial=0) == 0 and conf[known].min() >= 0
    np.testing.assert_array_equal(states, track.states)
    flipped = corrupt(track, SkeletonAugmentConfig(flip=1.0, drop_frame=0.0), np.random.default_rng(0),
                      list(labels.parts))[3]
    np.testing.assert_array_equal(flipped, track.states[:, part_flip(list(labels.parts))])


def test_dataset_items_batch_with_padding(tracks):
    found, labels = tracks
    ds = SkeletonTrackDataset(found, labels, SkeletonAugmentConfig())
    item = ds[0]
    t = len(found[0].present)
    assert item["x"].shape == (NUM_CHANNELS, t, 17) and item["states"].shape == (t, len(labels.parts))
    short = {**item, "x": item["x"][:, :2], "mask": item["mask"][:2], "states": item["states"][:2]}
    batch = skeleton_collate([item, short])
    assert batch["x"].shape == (2, NUM_CHANNELS, t, 17)
    assert not batch["mask"][1, 2:].any() and (batch["states"][1, 2:] == -1).all()
    assert batch["action"].dtype == torch.int64
