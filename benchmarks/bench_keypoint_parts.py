"""Benchmark: part boxes from keypoints (``pipeline/keypoint_parts.py``) against SynTPS part annotations.

The rule is applied to the *ground-truth* keypoints of every annotated person of a SynTPS split
(``keypoints_{split}.json``), with the person's ground-truth box, and its part boxes are scored with
our COCO box evaluator (:class:`~partparse.evaluation.coco_eval.COCODetectionEvaluator`, AP over IoU
.50:.95, AP50, per part) against the part boxes of ``gt_{split}/gt_part_result.json``: what the rule
costs when the keypoints are right. Rows:

- ``rule, visible keypoints``: keypoints with ``v = 2`` score 1, the rest 0 (their parts are left out);
- ``rule, all keypoints in frame``: ``v >= 1`` (covered joints too, whose parts may not be annotated);
- reference, same run: ``mean box in person box``, each part at its mean position relative to the
  person box, fitted on the ``--fit-split`` (train) ground truth; every part predicted, score 1.

SynTPS keypoints are pixel-centre coordinates (pixel ``i`` spans ``[i - 0.5, i + 0.5)``); the rule
works in the Protocols' continuous pixels, so 0.5 is added. Prints the rows, the ratio of the rule's AP
to the reference's, per-part AP50 and the rule's time per person.

    .venv/bin/python benchmarks/bench_keypoint_parts.py [--data data/syntps] [--split val]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def part_coco(gt_part: dict, keypoints: dict) -> dict:
    """COCO ground truth of the part boxes, one image per entry of ``keypoints['images']``."""
    from partparse.data.synthetic.keypoints_coco import xywh
    from partparse.data.vocabulary import BODY_PARTS

    annotations = []
    for image in keypoints["images"]:
        for human in gt_part[image["video_id"]][image["frame_key"]]["humans"]:
            for name, part in human["parts"].items():
                box = xywh(part["box"])
                annotations.append({"id": len(annotations) + 1, "image_id": image["id"],
                                    "category_id": BODY_PARTS.index(name) + 1, "bbox": box,
                                    "area": box[2] * box[3], "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(BODY_PARTS)]
    return {"images": keypoints["images"], "annotations": annotations, "categories": categories}


def persons_by_image(keypoints: dict):
    """``{image_id: [(box xyxy continuous (4,), keypoints (17, 2) continuous, v (17,))]}``."""
    import numpy as np

    out: dict[int, list] = {image["id"]: [] for image in keypoints["images"]}
    for ann in keypoints["annotations"]:
        x, y, w, h = ann["bbox"]
        kp = np.asarray(ann["keypoints"], np.float64).reshape(17, 3)
        out[ann["image_id"]].append((np.array([x, y, x + w, y + h], np.float64), kp[:, :2] + 0.5, kp[:, 2]))
    return out


def mean_relative_boxes(gt_part: dict) -> dict:
    """Each part's mean box relative to its person box (``(x - x1) / w`` etc.), from a GT split."""
    import numpy as np

    rel: dict[str, list] = {}
    for frames in gt_part.values():
        for frame in frames.values():
            for human in frame["humans"]:
                x1, y1, x2, y2 = human["box"]
                w, h = x2 - x1 + 1, y2 - y1 + 1
                for name, part in human["parts"].items():
                    px1, py1, px2, py2 = part["box"]
                    rel.setdefault(name, []).append([(px1 - x1) / w, (py1 - y1) / h, (px2 + 1 - x1) / w,
                                                     (py2 + 1 - y1) / h])
    return {name: np.mean(v, axis=0) for name, v in rel.items()}


def evaluate(coco_gt: dict, predictions: dict) -> dict:
    """``predictions``: ``{image_id: (boxes (N, 4), scores (N,), labels (N,))}``."""
    from partparse.data.vocabulary import BODY_PARTS
    from partparse.evaluation.coco_eval import COCODetectionEvaluator

    ev = COCODetectionEvaluator(coco_gt, class_names=list(BODY_PARTS))
    for image_id, (boxes, scores, labels) in predictions.items():
        ev.process(image_id, {"boxes": boxes, "scores": scores, "labels": labels})
    return ev.evaluate()


def rule_predictions(persons: dict, sizes: dict, min_visibility: int):
    import numpy as np

    from partparse.data.vocabulary import BODY_PARTS
    from partparse.pipeline.keypoint_parts import KeypointPartDetector

    rule = KeypointPartDetector()
    out, n, seconds = {}, 0, 0.0
    for image_id, people in persons.items():
        w, h = sizes[image_id]
        frame = np.zeros((h, w, 3), np.uint8)  # only its size is read
        boxes, scores, labels = [], [], []
        if people:
            t0 = time.perf_counter()
            found = rule.detect_parts(frame, np.stack([p[0] for p in people]), np.stack([p[1] for p in people]),
                                      np.stack([(p[2] >= min_visibility).astype(np.float32) for p in people]))
            seconds += time.perf_counter() - t0
            n += len(people)
            for parts in found:
                for name, (box, score) in parts.parts.items():
                    boxes.append(box), scores.append(score), labels.append(BODY_PARTS.index(name))
        out[image_id] = (np.array(boxes, np.float64).reshape(-1, 4), np.array(scores), np.array(labels, np.int64))
    return out, seconds / max(n, 1)


def mean_box_predictions(persons: dict, relative: dict):
    import numpy as np

    from partparse.data.vocabulary import BODY_PARTS

    out = {}
    for image_id, people in persons.items():
        boxes, labels = [], []
        for box, _, _ in people:
            x1, y1, x2, y2 = box
            scale = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
            for name, r in relative.items():
                boxes.append(np.array([x1, y1, x1, y1]) + r * scale)
                labels.append(BODY_PARTS.index(name))
        out[image_id] = (np.array(boxes).reshape(-1, 4), np.ones(len(boxes)), np.array(labels, np.int64))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "syntps")
    ap.add_argument("--split", default="val")
    ap.add_argument("--fit-split", default="train", help="split the reference's mean boxes are fitted on")
    args = ap.parse_args()

    from partparse.data.vocabulary import BODY_PARTS
    from partparse.io import read_json

    keypoints = read_json(args.data / f"keypoints_{args.split}.json")
    gt_part = read_json(args.data / f"gt_{args.split}" / "gt_part_result.json")
    coco_gt = part_coco(gt_part, keypoints)
    persons = persons_by_image(keypoints)
    sizes = {im["id"]: (im["width"], im["height"]) for im in keypoints["images"]}
    relative = mean_relative_boxes(read_json(args.data / f"gt_{args.fit_split}" / "gt_part_result.json"))

    visible, per_person = rule_predictions(persons, sizes, min_visibility=2)
    rows = {"rule, visible keypoints (v = 2)": evaluate(coco_gt, visible),
            "rule, all keypoints in frame (v >= 1)": evaluate(coco_gt, rule_predictions(persons, sizes, 1)[0]),
            f"reference: mean box in person box ({args.fit_split} fit)":
                evaluate(coco_gt, mean_box_predictions(persons, relative))}
    ref = list(rows.values())[-1]
    print(f"{args.data} {args.split}: {len(keypoints['images'])} frames, {len(keypoints['annotations'])} persons, "
          f"{len(coco_gt['annotations'])} part boxes; rule {per_person * 1e6:.0f} us per person")
    print(f"{'':46} {'AP':>6} {'AP50':>6} {'AP75':>6} {'AP/ref':>7}")
    for name, m in rows.items():
        print(f"{name:46} {100 * m['AP']:6.1f} {100 * m['AP50']:6.1f} {100 * m['AP75']:6.1f} "
              f"{m['AP'] / ref['AP']:7.2f}")
    print("per part, AP / AP50 (rule, visible keypoints | reference):")
    rule = rows["rule, visible keypoints (v = 2)"]
    for name in BODY_PARTS:
        print(f"  {name:11} {100 * rule[f'AP/{name}']:5.1f} / {100 * rule[f'AP50/{name}']:5.1f}   |   "
              f"{100 * ref[f'AP/{name}']:5.1f} / {100 * ref[f'AP50/{name}']:5.1f}")


if __name__ == "__main__":
    main()
