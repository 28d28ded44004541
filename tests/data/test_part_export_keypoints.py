"""The part export stores each person's COCO keypoints in crop pixels, for pose-guided part detection."""

from __future__ import annotations

import pytest

from partparse.data.synthetic.export_coco import crop_crowding, export_part_detection
from partparse.io import InputError, read_json, write_json


def test_part_crops_carry_the_persons_keypoints_in_crop_pixels(tiny_dataset, tmp_path):
    parts = read_json(export_part_detection(tiny_dataset, "train", tmp_path))
    frames = read_json(tiny_dataset / "keypoints_train.json")
    names = {img["id"]: img["file_name"] for img in frames["images"]}
    by_frame: dict[str, list] = {}
    for ann in frames["annotations"]:
        by_frame.setdefault(names[ann["image_id"]], []).append(ann["keypoints"])
    assert parts["images"]
    for img in parts["images"]:
        frame_name = img["file_name"].rsplit("_p", 1)[0] + ".jpg"
        x0, y0 = img["crop_box"][:2]
        frame_kps = by_frame[frame_name][img["person"]]
        kps = img["keypoints"]
        assert len(kps) == 51
        for k in range(17):
            x, y, v = frame_kps[3 * k:3 * k + 3]
            if v > 0:
                assert kps[3 * k:3 * k + 3] == [pytest.approx(x - x0, abs=0.01), pytest.approx(y - y0, abs=0.01), v]
            else:
                assert kps[3 * k:3 * k + 3] == [0, 0, 0]


def test_keypoints_that_do_not_match_the_persons_are_an_error(tiny_dataset, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_dataset, root)
    frames = read_json(root / "keypoints_val.json")
    frames["annotations"][0]["bbox"] = [0, 0, 1, 1]
    write_json(root / "keypoints_val.json", frames)
    with pytest.raises(InputError, match="has no keypoint annotation with its box"):
        export_part_detection(root, "val", tmp_path / "out")
    (root / "keypoints_val.json").unlink()  # Kinetics-TPS: no keypoints, no field
    parts = read_json(export_part_detection(root, "val", tmp_path / "out"))
    assert parts["images"] and all("keypoints" not in img for img in parts["images"])


def test_crowding_is_the_largest_share_of_the_crop_another_person_covers(tiny_dataset, tmp_path):
    assert crop_crowding((0, 0, 9, 9), []) == 0.0
    assert crop_crowding((0, 0, 9, 9), [(5, 0, 20, 9), (0, 0, 2, 2)]) == 0.5     # 50 of 100 pixels, not 9
    assert crop_crowding((0, 0, 9, 9), [(-5, -5, 30, 30)]) == 1.0 and crop_crowding((0, 0, 9, 9), [(10, 0, 12, 9)]) == 0
    parts = read_json(export_part_detection(tiny_dataset, "train", tmp_path))
    frames = read_json(tiny_dataset / "keypoints_train.json")
    names = {img["id"]: img["file_name"] for img in frames["images"]}
    boxes: dict[str, list] = {}
    for ann in frames["annotations"]:                  # COCO xywh of inclusive boxes: w = x2 - x1 + 1
        x, y, w, h = ann["bbox"]
        boxes.setdefault(names[ann["image_id"]], []).append((x, y, x + w - 1, y + h - 1))
    alone = 0
    for img in parts["images"]:
        others = [b for k, b in enumerate(boxes[img["file_name"].rsplit("_p", 1)[0] + ".jpg"]) if k != img["person"]]
        assert img["crowding"] == crop_crowding(img["crop_box"], others)
        alone += not others
    assert 0 < alone < len(parts["images"])            # the tiny set has crops with and without neighbours
