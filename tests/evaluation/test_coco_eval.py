"""COCO box and keypoint AP through pycocotools, from our continuous-xyxy prediction tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.evaluation.coco_eval import (
    COCODetectionEvaluator,
    COCOKeypointEvaluator,
    load_coco,
    xywh_to_xyxy,
    xyxy_to_xywh,
)
from partparse.io import InputError

CATEGORIES = [{"id": 1, "name": "head"}, {"id": 2, "name": "left_hand"}, {"id": 3, "name": "right_hand"}]


def box_gt() -> dict:
    """Three images; integer COCO boxes as the exports write them (w = x2 - x1 + 1 of inclusive corners)."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(1, 4):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 150})
        for cat in (1, 2, 3):
            x, y = (int(v) for v in rng.integers(0, 100, 2))
            w, h = (int(v) for v in rng.integers(12, 40, 2))
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
    return {"images": images, "annotations": anns, "categories": CATEGORIES}


def gt_predictions(gt: dict, shift: float = 0.0) -> dict[int, dict[str, torch.Tensor]]:
    """The ground truth as predictions (continuous xyxy, 0-based labels), optionally shifted right by
    ``shift`` of each box's width."""
    preds: dict[int, dict[str, list]] = {img["id"]: {"boxes": [], "scores": [], "labels": []} for img in gt["images"]}
    for ann in gt["annotations"]:
        box = xywh_to_xyxy([ann["bbox"]])[0]
        box[[0, 2]] += shift * ann["bbox"][2]
        p = preds[ann["image_id"]]
        p["boxes"].append(box)
        p["scores"].append(0.9)
        p["labels"].append(ann["category_id"] - 1)
    return {i: {"boxes": torch.tensor(np.array(p["boxes"]), dtype=torch.float32), "scores": torch.tensor(p["scores"]),
                "labels": torch.tensor(p["labels"])} for i, p in preds.items()}


def test_box_conversion_is_continuous_and_round_trips():
    xyxy = torch.tensor([[10.0, 20.0, 15.0, 60.0], [0.5, 1.5, 2.0, 3.0]])
    xywh = xyxy_to_xywh(xyxy)
    np.testing.assert_allclose(xywh, [[10, 20, 5, 40], [0.5, 1.5, 1.5, 1.5]])
    np.testing.assert_allclose(xywh_to_xyxy(xywh), xyxy.numpy())


def test_ground_truth_as_predictions_scores_ap_one_per_class():
    gt = box_gt()
    ev = COCODetectionEvaluator(gt)
    for image_id, pred in gt_predictions(gt).items():
        ev.process(image_id, pred)
    m = ev.evaluate()
    assert m["AP"] == pytest.approx(1.0) and m["AP50"] == pytest.approx(1.0) and m["AP75"] == pytest.approx(1.0)
    for name in ("head", "left_hand", "right_hand"):
        assert m[f"AP/{name}"] == pytest.approx(1.0) and m[f"AP50/{name}"] == pytest.approx(1.0)


def test_shifted_boxes_score_lower_and_iou_decides_ap50():
    gt = box_gt()
    results = {}
    for shift in (0.1, 0.3, 0.7):
        ev = COCODetectionEvaluator(gt)
        for image_id, pred in gt_predictions(gt, shift).items():
            ev.process(image_id, pred)
        results[shift] = ev.evaluate()
    # IoU of a box shifted by s of its width: (1 - s) / (1 + s): 0.82, 0.54, 0.18
    assert 0.5 < results[0.1]["AP"] < 1.0 and results[0.1]["AP50"] == pytest.approx(1.0)
    assert results[0.3]["AP"] < results[0.1]["AP"] and results[0.3]["AP50"] == pytest.approx(1.0)
    assert results[0.3]["AP75"] == pytest.approx(0.0)
    assert results[0.7]["AP"] == pytest.approx(0.0) and results[0.7]["AP50"] == pytest.approx(0.0)


def test_class_names_order_labels_and_unprocessed_images_are_not_charged():
    gt = box_gt()
    # the detector's label 0 is right_hand: swap the labels of the two hands in the predictions
    ev = COCODetectionEvaluator(gt, class_names=["right_hand", "left_hand", "head"])
    preds = gt_predictions(gt)
    for image_id in (1, 2):  # image 3 never processed
        p = preds[image_id]
        ev.process(image_id, {**p, "labels": 2 - p["labels"]})
    m = ev.evaluate()
    assert m["AP"] == pytest.approx(1.0)
    ev.reset()
    ev.process(1, preds[1])  # wrong label order now: head predicted as right_hand, etc.
    assert ev.evaluate()["AP/left_hand"] == pytest.approx(1.0) and ev.evaluate()["AP/head"] == pytest.approx(0.0)


def test_crowded_crops_are_scored_apart_when_the_images_say_how_crowded_they_are():
    gt = box_gt()
    preds = gt_predictions(gt)
    preds[3] = gt_predictions(gt, shift=0.7)[3]              # image 3 wrong (IoU 0.18)
    ev = COCODetectionEvaluator(gt)
    for image_id, pred in preds.items():
        ev.process(image_id, pred)
    assert not {"AP_crowded", "AP50_crowded"} & set(ev.evaluate())   # no "crowding": no crowded figures
    for img, crowding in zip(gt["images"], (0.0, 0.3, 0.8), strict=True):
        img["crowding"] = crowding
    for crowded, expected in (((2, 3), 0.5), ((1, 2), 1.0)):
        ev = COCODetectionEvaluator(gt)
        for image_id in crowded:                                # crowded images 2 and 3; 2 alone processed
            ev.process(image_id, preds[image_id])
        m = ev.evaluate()
        if crowded == (2, 3):                                   # half the crowded crops' parts found
            assert m["AP50_crowded"] == pytest.approx(0.5, abs=0.02) and m["AP50"] == pytest.approx(0.5, abs=0.02)
        else:                                                   # image 1 is not crowded: only 2 counts
            assert m["AP50_crowded"] == pytest.approx(expected) and m["AP_crowded"] == pytest.approx(1.0)
    ev = COCODetectionEvaluator(gt)
    ev.process(1, preds[1])                                     # no crowded crop processed: no figure
    assert "AP50_crowded" not in ev.evaluate()


def test_no_detection_is_zero_and_bad_input_is_reported():
    gt = box_gt()
    ev = COCODetectionEvaluator(gt)
    ev.process(1, {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)})
    assert ev.evaluate()["AP"] == 0.0
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        ev.process(1, {"boxes": torch.zeros(1, 4), "scores": torch.ones(1), "labels": torch.tensor([3])})
    with pytest.raises(InputError, match="no category 'foot'"):
        COCODetectionEvaluator(gt, class_names=["foot"])
    with pytest.raises(InputError, match="not a COCO file"):
        load_coco({"images": []})


def keypoint_gt() -> dict:
    rng = np.random.default_rng(1)
    images, anns = [], []
    for i in range(1, 5):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 320, "height": 240})
        for _ in range(2):
            x, y = rng.uniform(20, 200, 2)
            w, h = rng.uniform(40, 80), rng.uniform(100, 130)
            kps = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.full(17, 2.0)], 1)
            kps[3] = 0  # one joint not labelled
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": [x, y, w, h],
                         "area": w * h * 0.6, "iscrowd": 0, "keypoints": kps.reshape(-1).tolist()})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}]}


def keypoint_predictions(gt: dict, noise_px: float = 0.0):
    rng = np.random.default_rng(2)
    by_image: dict[int, list] = {}
    for ann in gt["annotations"]:
        kps = np.asarray(ann["keypoints"]).reshape(17, 3)[:, :2] + rng.normal(0, noise_px, (17, 2)) * (noise_px > 0)
        by_image.setdefault(ann["image_id"], []).append(kps)
    return {i: {"keypoints": torch.tensor(np.stack(k)), "keypoint_scores": torch.ones(len(k), 17),
                "scores": torch.ones(len(k))} for i, k in by_image.items()}


def test_keypoint_ap_is_one_for_ground_truth_and_falls_with_noise():
    gt = keypoint_gt()
    aps = []
    for noise in (0.0, 3.0, 10.0):
        ev = COCOKeypointEvaluator(gt)
        for image_id, pred in keypoint_predictions(gt, noise).items():
            ev.process(image_id, pred)
        aps.append(ev.evaluate()["AP"])
    assert aps[0] == pytest.approx(1.0)
    assert aps[0] > aps[1] > aps[2]
    with pytest.raises(ValueError, match=r"keypoints \(N, K, 2\)"):
        COCOKeypointEvaluator(gt).process(1, {"keypoints": torch.zeros(2, 17), "keypoint_scores": torch.zeros(2, 17),
                                              "scores": torch.zeros(2)})
