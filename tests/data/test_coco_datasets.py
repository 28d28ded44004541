"""COCO detection / top-down keypoint datasets: boxes, flips that swap sides, pose-guidance dots, crops."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from partparse.data.coco_detection import (
    COCODetectionDataset,
    DetectionTransformConfig,
    detection_collate,
    flip_boxes,
    left_right_permutation,
    random_shift,
)
from partparse.data.coco_keypoints import COCOTopDownDataset, TopDownTransformConfig, affine_crop, topdown_collate
from partparse.data.keypoint_dots import KEYPOINT_COLOURS
from partparse.io import InputError
from partparse.models.keypoint_codec import COCO_FLIP_PAIRS, crop_boxes, flip_permutation
from partparse.structures import COCO_KEYPOINTS

PARTS = ["head", "left_arm", "right_arm"]
GREY = 90


def _write_image(path, width: int, height: int, value: int = GREY) -> None:
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path, format="PNG")


@pytest.fixture()
def part_export(tmp_path):
    """One 40x60 crop with a head box and a left-arm box, and the person's keypoints: left shoulder at
    (10, 20) and right shoulder at (30, 20), the rest unlabelled."""
    (tmp_path / "crops").mkdir()
    _write_image(tmp_path / "crops" / "a.png", 40, 60)
    kps = [0.0] * 51
    kps[5 * 3:5 * 3 + 3] = [10.0, 20.0, 2]
    kps[6 * 3:6 * 3 + 3] = [30.0, 20.0, 1]
    coco = {"images": [{"id": 7, "file_name": "a.png", "width": 40, "height": 60, "keypoints": kps}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [15, 2, 10, 12], "iscrowd": 0},
                            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [2, 18, 8, 30], "iscrowd": 0}],
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(PARTS)]}
    (tmp_path / "parts.json").write_text(json.dumps(coco))
    return tmp_path


def _train(flip: float) -> DetectionTransformConfig:
    # the 40x60 crop keeps its size (shorter side 40, longer 60), no shift: only the flip acts
    return DetectionTransformConfig(train=True, min_size=40, max_size=60, flip_prob=flip, shift_prob=0.0)


def test_boxes_are_continuous_xyxy_with_labels_in_class_order(part_export):
    ds = COCODetectionDataset(part_export / "parts.json", part_export / "crops", ["left_arm", "head"])
    item = ds[0]
    assert item["image"].shape == (3, 60, 40) and item["image"].dtype == torch.float32
    assert float(item["image"].max()) == pytest.approx(GREY / 255)
    t = item["target"]
    torch.testing.assert_close(t["boxes"], torch.tensor([[15.0, 2.0, 25.0, 14.0], [2.0, 18.0, 10.0, 48.0]]))
    assert t["labels"].tolist() == [1, 0] and t["image_id"] == 7 and t["orig_size"] == (60, 40)
    images, targets = detection_collate([item, item])
    assert len(images) == 2 and targets[1]["image_id"] == 7


def test_flip_mirrors_boxes_and_swaps_left_right_parts(part_export):
    ds = COCODetectionDataset(part_export / "parts.json", part_export / "crops", PARTS, _train(flip=1.0))
    t = ds[0]["target"]
    torch.testing.assert_close(t["boxes"], torch.tensor([[15.0, 2.0, 25.0, 14.0], [30.0, 18.0, 38.0, 48.0]]))
    assert [PARTS[i] for i in t["labels"]] == ["head", "right_arm"]


def test_pose_guidance_draws_keypoint_dots_and_the_flip_swaps_their_colours(part_export):
    plain = COCODetectionDataset(part_export / "parts.json", part_export / "crops", PARTS)[0]["image"]
    guided = COCODetectionDataset(part_export / "parts.json", part_export / "crops", PARTS,
                                  pose_guidance=True)[0]["image"]
    changed = (guided != plain).any(0)
    assert changed[20, 10] and changed[20, 30] and not changed[50, 20]   # dots at the two shoulders only
    assert 2 <= int(changed.sum()) <= 2 * 30
    rgb = (guided * 255).round().to(torch.uint8)
    assert tuple(rgb[:, 20, 10].tolist()) == KEYPOINT_COLOURS[5]        # left shoulder colour
    assert tuple(rgb[:, 20, 30].tolist()) == KEYPOINT_COLOURS[6]
    flipped = COCODetectionDataset(part_export / "parts.json", part_export / "crops", PARTS, _train(flip=1.0),
                                   pose_guidance=True)[0]["image"]
    rgb = (flipped * 255).round().to(torch.uint8)
    # mirrored (x -> 39 - x) and relabelled: the left shoulder is now the joint at 39 - 30 = 9
    assert tuple(rgb[:, 20, 9].tolist()) == KEYPOINT_COLOURS[5]
    assert tuple(rgb[:, 20, 29].tolist()) == KEYPOINT_COLOURS[6]


def test_pose_guidance_needs_keypoints_in_the_export(part_export):
    coco = json.loads((part_export / "parts.json").read_text())
    del coco["images"][0]["keypoints"]
    (part_export / "bare.json").write_text(json.dumps(coco))
    with pytest.raises(InputError, match="bare.json: image a.png has no 'keypoints'"):
        COCODetectionDataset(part_export / "bare.json", part_export / "crops", PARTS, pose_guidance=True)
    with pytest.raises(InputError, match="no category 'foot'"):
        COCODetectionDataset(part_export / "parts.json", part_export / "crops", ["foot"])


def test_left_right_permutation_matches_the_coco_flip_pairs():
    assert left_right_permutation(COCO_KEYPOINTS) == flip_permutation(17, COCO_FLIP_PAIRS)
    assert left_right_permutation(["head", "left_hand", "hip", "right_hand"]) == [0, 3, 2, 1]


def test_resize_keeps_aspect_and_shift_drops_boxes_pushed_out(part_export):
    cfg = DetectionTransformConfig(train=True, min_size=80, max_size=1000, flip_prob=0.0, shift_prob=0.0)
    item = COCODetectionDataset(part_export / "parts.json", part_export / "crops", PARTS, cfg)[0]
    assert item["image"].shape == (3, 120, 80)
    torch.testing.assert_close(item["target"]["boxes"][0], torch.tensor([30.0, 4.0, 50.0, 28.0]))
    torch.testing.assert_close(flip_boxes(torch.tensor([[0.0, 1.0, 10.0, 2.0]]), 40),
                               torch.tensor([[30.0, 1.0, 40.0, 2.0]]))
    image = torch.ones(3, 50, 50)
    boxes, labels = torch.tensor([[0.0, 0.0, 5.0, 5.0], [20.0, 20.0, 30.0, 30.0]]), torch.tensor([0, 1])
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        out, b, lab = random_shift(image, boxes, labels, 8, generator=g)
        assert out.shape == image.shape and len(b) == len(lab)
        assert bool((b[:, 2:] - b[:, :2] >= 1).all()) and float(b.min()) >= 0 and float(b.max()) <= 50
        assert 1 in lab.tolist()  # the central box always survives an 8 px shift
    narrow = torch.arange(3 * 40 * 5, dtype=torch.float32).view(3, 40, 5) + 1    # a crop 5 px wide
    box = torch.tensor([[1.0, 1.0, 4.0, 39.0]])
    shifts = set()
    for _ in range(40):                                  # shifts of up to 16 px: most move it out entirely
        out, b, lab = random_shift(narrow, box, torch.tensor([0]), 16, generator=g)
        assert out.shape == narrow.shape and len(b) == len(lab) <= 1
        kept = int((out != 0).any(0).any(0).sum())       # image columns still showing the crop
        shifts.add(kept)
        if kept == 0:
            assert len(b) == 0                           # nothing of the crop left: no box either
    assert 0 in shifts and max(shifts) == 5              # out entirely, and unmoved (or vertically only)


# ---- top-down keypoint crops ------------------------------------------------------------------------

@pytest.fixture()
def keypoint_export(tmp_path):
    """A 120x100 image, one person box, a bright 3x3 spot at the left wrist (60, 40)."""
    img = np.full((100, 120, 3), 20, np.uint8)
    img[39:42, 59:62] = 250
    (tmp_path / "images").mkdir()
    Image.fromarray(img).save(tmp_path / "images" / "f.png")
    kps = [0.0] * 51
    kps[9 * 3:9 * 3 + 3] = [60.0, 40.0, 2]     # left wrist
    kps[10 * 3:10 * 3 + 3] = [50.0, 70.0, 2]   # right wrist
    coco = {"images": [{"id": 3, "file_name": "f.png", "width": 120, "height": 100}],
            "annotations": [{"id": 1, "image_id": 3, "category_id": 1, "bbox": [40.0, 20.0, 40.0, 60.0],
                             "iscrowd": 0, "keypoints": kps, "num_keypoints": 2},
                            {"id": 2, "image_id": 3, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 0,
                             "keypoints": [0] * 51, "num_keypoints": 0}],
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS)}]}
    (tmp_path / "kp.json").write_text(json.dumps(coco))
    return tmp_path


def _still(**kwargs) -> TopDownTransformConfig:
    base = dict(train=True, input_size=[64, 48], flip_prob=0.0, shift_prob=0.0, scale_prob=0.0, rotate_prob=0.0)
    return TopDownTransformConfig(**{**base, **kwargs})


def test_unaugmented_crop_is_the_inference_crop(keypoint_export):
    ds = COCOTopDownDataset(keypoint_export / "kp.json", keypoint_export / "images", _still())
    assert len(ds) == 1  # the person without labelled joints is left out
    item = ds[0]
    image = torch.from_numpy(np.array(Image.open(keypoint_export / "images" / "f.png"))).permute(2, 0, 1) / 255
    ref, transform = crop_boxes(image.float(), torch.tensor([[40.0, 20.0, 80.0, 80.0]]), (64, 48))
    torch.testing.assert_close(item["image"][:, 2:-2, 2:-2], ref[0, :, 2:-2, 2:-2], atol=1e-4, rtol=0)
    expected = transform.to_crop(torch.tensor([[[60.0, 40.0], [50.0, 70.0]]]))[0]
    torch.testing.assert_close(item["keypoints"][9:11, :2], expected)
    assert item["keypoints"][0].tolist() == [0.0, 0.0, 0.0]
    batch = topdown_collate([item, item])
    assert batch["images"].shape == (2, 3, 64, 48) and batch["targets"][0]["keypoints"].shape == (17, 3)


def test_flip_swaps_wrists_and_mirrors_x(keypoint_export):
    still = COCOTopDownDataset(keypoint_export / "kp.json", keypoint_export / "images", _still())[0]
    flipped = COCOTopDownDataset(keypoint_export / "kp.json", keypoint_export / "images", _still(flip_prob=1.0))[0]
    torch.testing.assert_close(flipped["image"], still["image"].flip(-1))
    # the left wrist of the flipped crop is the mirrored right wrist, and the other way round
    assert flipped["keypoints"][9, 0] == pytest.approx(47 - float(still["keypoints"][10, 0]))
    assert flipped["keypoints"][10, 1] == pytest.approx(float(still["keypoints"][9, 1]))


@pytest.mark.parametrize("angle", [0.0, 30.0, -70.0])
def test_rotated_crops_keep_keypoints_on_their_pixels(keypoint_export, angle):
    torch.manual_seed(0)
    ds = COCOTopDownDataset(keypoint_export / "kp.json", keypoint_export / "images",
                            _still(rotate_prob=1.0, rotate_factor=abs(angle) or 1.0, scale_prob=1.0,
                                   scale_range=[0.8, 1.2], shift_prob=1.0))
    for _ in range(3):
        item = ds[0]
        x, y = (int(round(float(v))) for v in item["keypoints"][9, :2])
        assert float(item["image"][:, y, x].mean()) > 0.6  # the bright spot is where the wrist was mapped
    crop = affine_crop(torch.ones(1, 10, 10), torch.tensor([5.0, 5.0]), 1.0, angle, (4, 4))
    assert crop.shape == (1, 4, 4) and float(crop.min()) == pytest.approx(1.0)


def test_max_images_keeps_an_evenly_spaced_subset_with_its_targets(tmp_path):
    (tmp_path / "crops").mkdir()
    images = [{"id": 100 + k, "file_name": "a.png", "width": 40, "height": 60} for k in range(10)]
    anns = [{"id": k, "image_id": 100 + k, "category_id": 1, "bbox": [1, 1, 5 + k, 5], "iscrowd": 0} for k in range(10)]
    (tmp_path / "p.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                 "categories": [{"id": 1, "name": "head"}]}))
    ds = COCODetectionDataset(tmp_path / "p.json", tmp_path / "crops", ["head"], max_images=4)
    assert [img["id"] for img in ds.images] == [100, 103, 106, 109]       # first and last kept, even spacing
    assert ds.targets[106][0] == [[1, 1, 12, 6]]                          # their boxes come along
    assert len(COCODetectionDataset(tmp_path / "p.json", tmp_path / "crops", ["head"], max_images=50)) == 10
    with pytest.raises(ValueError, match="max_images"):
        COCODetectionDataset(tmp_path / "p.json", tmp_path / "crops", ["head"], max_images=0)
