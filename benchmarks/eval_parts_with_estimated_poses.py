"""A pose-guided part detector on the val crops with dots from a *pose model* instead of the ground truth:
what the parser gives it (estimated keypoints on the ground-truth person box, drawn where their score
reaches ``--keypoint-thr``, the parse recipe's ``parts.keypoint_score_thr``).

    python benchmarks/eval_parts_with_estimated_poses.py PARTS_RUN POSE_RUN [--max-images 1000]

Needs the parts export (``parts_{split}.json`` + ``crops/``) and the person export (``persons_{split}.json``
+ ``images/``) of ``partparse export-coco`` in the part recipe's ``data.root``. Prints COCO AP / AP50 with
ground-truth dots and with estimated dots on the same crops; writes ``PARTS_RUN/estimated_pose_eval.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from partparse.data.coco_detection import COCODetectionDataset, DetectionTransformConfig
from partparse.data.keypoint_dots import draw_keypoint_dots
from partparse.data.synthetic.layout import frame_image_name
from partparse.engine.trained_models import load_trained
from partparse.evaluation.coco_eval import COCODetectionEvaluator
from partparse.io import read_json
from partparse.models.hrnet import estimate_poses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts_run", type=Path)
    parser.add_argument("pose_run", help="a pose run dir, checkpoint or zoo:NAME")
    parser.add_argument("--max-images", type=int, default=1000, help="evenly spaced val crops (default 1000)")
    parser.add_argument("--keypoint-thr", type=float, default=0.3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts, recipe, _ = load_trained(args.parts_run)
    pose, pose_recipe, _ = load_trained(args.pose_run)
    root = Path(recipe.data.root)
    crops = COCODetectionDataset(root / recipe.data.val_ann,
                                 root / (recipe.data.val_image_dir or recipe.data.image_dir),
                                 recipe.model.class_names, DetectionTransformConfig(train=False),
                                 pose_guidance=True, max_images=args.max_images)
    split = recipe.data.val_ann.removeprefix("parts_").removesuffix(".json")
    persons = read_json(root / f"persons_{split}.json")
    frame_id = {img["file_name"]: img["id"] for img in persons["images"]}
    boxes_of: dict[int, list] = {}
    for ann in persons["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes_of.setdefault(ann["image_id"], []).append([x, y, x + w, y + h])
    frames = COCODetectionDataset(root / f"persons_{split}.json", root / "images", ["person"],
                                  DetectionTransformConfig(train=False))
    index_of = {img["id"]: i for i, img in enumerate(frames.images)}
    results = {}
    for mode in ("gt_dots", "estimated_dots"):
        evaluator = COCODetectionEvaluator(crops.ann_file, crops.class_names)
        for i, info in enumerate(crops.images):
            if mode == "gt_dots":
                image = crops[i]["image"]
            else:
                fid = frame_id[frame_image_name(info["video_id"], info["frame_index"])]
                frame = torch.from_numpy(frames.read_rgb(index_of[fid])).permute(2, 0, 1).float().div(255)
                box = torch.tensor([boxes_of[fid][info["person"]]], dtype=torch.float32)
                with torch.no_grad():
                    kps, scores = estimate_poses(pose, frame, box, pose_recipe.input.padding)
                x0, y0 = info["crop_box"][:2]
                rgb = draw_keypoint_dots(crops.read_rgb(i), kps[0] - torch.tensor([x0, y0]), scores[0],
                                         score_thr=args.keypoint_thr)
                image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
            with torch.no_grad():
                det = parts([image])[0]
            evaluator.process(info["id"], det)
        metrics = evaluator.evaluate()
        results[mode] = metrics
        shown = ("AP", "AP50", "AP75", "AP_crowded", "AP50_crowded")
        print(mode, {k: round(100 * metrics[k], 1) for k in shown if k in metrics}, flush=True)
    results.update(parts_run=str(args.parts_run), pose_run=str(args.pose_run), max_images=args.max_images,
                   keypoint_thr=args.keypoint_thr)
    (args.parts_run / "estimated_pose_eval.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
