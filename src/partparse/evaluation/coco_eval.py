"""COCO box AP and keypoint OKS AP of our predictions, computed by pycocotools' ``COCOeval``.

Coordinate conventions at this boundary:
- predictions are continuous ``xyxy`` pixels (``x2 = x1 + width``, as the detectors output), converted
  to COCO ``[x, y, w, h]`` by :func:`xyxy_to_xywh`; the COCO exports of partparse write inclusive
  Kinetics-TPS boxes as ``w = x2 - x1 + 1``, which is the same continuous extent, so a ground-truth
  box read back as ``[x, y, x + w, y + h]`` and predicted unchanged scores IoU 1;
- predicted labels are 0-based indices into the evaluator's ``class_names`` (matched to the GT
  categories by name) or, without names, into the GT categories sorted by id;
- keypoints are ``(K, 2)`` image pixels with ``(K,)`` scores, as COCO result ``[x, y, score] * K``.

Evaluators share one small interface (detectron2's): ``process(image_id, prediction)`` per image, then
``evaluate() -> {metric: float}`` with AP values as fractions in ``[0, 1]`` (COCO's own scale).
pycocotools' progress prints are silenced.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from partparse.io import InputError, read_json

# COCOeval.stats indices (summarize() order) of the figures we report
_BOX_STATS = {"AP": 0, "AP50": 1, "AP75": 2, "AP_small": 3, "AP_medium": 4, "AP_large": 5, "AR100": 8}
# a crop is crowded when another person's box covers at least this fraction of it (the exports' "crowding")
CROWDED_CROP = 0.3
_KPT_STATS = {"AP": 0, "AP50": 1, "AP75": 2, "AP_medium": 3, "AP_large": 4, "AR": 5}


def xyxy_to_xywh(boxes) -> np.ndarray:
    """``(N, 4)`` continuous ``xyxy`` -> COCO ``[x, y, w, h]`` (``w = x2 - x1``), float64."""
    b = np.asarray(boxes.detach().cpu() if isinstance(boxes, torch.Tensor) else boxes, dtype=np.float64)
    b = b.reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def xywh_to_xyxy(boxes) -> np.ndarray:
    """COCO ``[x, y, w, h]`` -> continuous ``xyxy`` (``x2 = x + w``), float64 ``(N, 4)``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def load_coco(gt: str | Path | Mapping | COCO) -> COCO:
    """A pycocotools ``COCO`` from a JSON path, a loaded dict or a ``COCO`` (returned as is), quietly.

    Fills what ``COCOeval`` needs and exports may omit: ``iscrowd`` (0), ``area`` (box area) and, for
    keypoint annotations, ``num_keypoints`` (joints with ``v > 0``).
    """
    if isinstance(gt, COCO):
        return gt
    where = str(gt) if isinstance(gt, (str, Path)) else "ground truth"
    data = read_json(gt) if isinstance(gt, (str, Path)) else copy.deepcopy(dict(gt))
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= set(data):
        raise InputError(f"{where}: not a COCO file (needs images, annotations and categories)")
    for ann in data["annotations"]:
        ann.setdefault("iscrowd", 0)
        if "area" not in ann and "bbox" in ann:
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        if "keypoints" in ann and "num_keypoints" not in ann:
            ann["num_keypoints"] = int(sum(1 for v in ann["keypoints"][2::3] if v > 0))
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _summarize(coco_gt: COCO, results: list[dict], iou_type: str, cat_ids: Sequence[int],
               img_ids: Sequence[int], sigmas: np.ndarray | None = None) -> COCOeval:
    """Run COCOeval on the processed images only (a partial validation is not charged for the rest)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.params.catIds = list(cat_ids)
        ev.params.imgIds = sorted(img_ids)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _stats(ev: COCOeval | None, names: Mapping[str, int]) -> dict[str, float]:
    """The named ``ev.stats``; COCOeval's -1 (undefined: no ground truth in that area range) is left out."""
    if ev is None:
        return {name: 0.0 for name in names}
    return {name: float(ev.stats[i]) for name, i in names.items() if ev.stats[i] >= 0}


class COCODetectionEvaluator:
    """Box AP (overall and per category) of detections against a COCO ground truth.

    ``class_names``: the detector's label order (label ``i`` = category named ``class_names[i]``);
    ``None`` = the GT categories sorted by id.
    """

    def __init__(self, gt: str | Path | Mapping | COCO, class_names: Sequence[str] | None = None):
        self.coco = load_coco(gt)
        cats = sorted(self.coco.loadCats(self.coco.getCatIds()), key=lambda c: c["id"])
        by_name = {c["name"]: c["id"] for c in cats}
        if class_names is None:
            self.cat_ids = [c["id"] for c in cats]
            self.class_names = [c["name"] for c in cats]
        else:
            missing = [n for n in class_names if n not in by_name]
            if missing:
                raise InputError(f"ground truth has no category {missing[0]!r} (has: {', '.join(by_name)})")
            self.cat_ids = [by_name[n] for n in class_names]
            self.class_names = list(class_names)
        self.results: list[dict] = []
        self.image_ids: set[int] = set()

    def reset(self) -> None:
        self.results, self.image_ids = [], set()

    def process(self, image_id: int, prediction: Mapping[str, torch.Tensor | np.ndarray]) -> None:
        """One image's ``boxes (N, 4)`` continuous xyxy in the GT image's pixels, ``scores (N,)``, ``labels (N,)``."""
        boxes = xyxy_to_xywh(prediction["boxes"])
        scores = np.asarray(_cpu(prediction["scores"]), dtype=np.float64).reshape(-1)
        labels = np.asarray(_cpu(prediction["labels"]), dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(f"image {image_id}: {len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.cat_ids)):
            raise ValueError(f"image {image_id}: labels must lie in [0, {len(self.cat_ids)}), got {labels.tolist()}")
        self.image_ids.add(int(image_id))
        for box, score, label in zip(boxes, scores, labels, strict=True):
            self.results.append({"image_id": int(image_id), "category_id": self.cat_ids[label],
                                 "bbox": [float(v) for v in box], "score": float(score)})

    def evaluate(self, per_category: bool = True) -> dict[str, float]:
        """``AP, AP50, AP75, AP_small/medium/large, AR100`` over the processed images (an image processed
        with no detection counts its ground truth as missed), and ``AP/<class>``, ``AP50/<class>`` for each
        class with ground truth. No detection at all gives 0.

        Where the ground truth's images carry ``crowding`` (person crops of ``partparse export-coco``), also
        ``AP_crowded`` and ``AP50_crowded``: the same over the processed crops with ``crowding >=``
        :data:`CROWDED_CROP`, the crops whose parts keypoint dots tell apart from a neighbour's."""
        ev = _summarize(self.coco, self.results, "bbox", self.cat_ids, self.image_ids) if self.results else None
        out = _stats(ev, _BOX_STATS)
        crowded = {i for i in self.image_ids if self.coco.imgs.get(i, {}).get("crowding", -1) >= CROWDED_CROP}
        if crowded:
            crowded_ev = _summarize(self.coco, self.results, "bbox", self.cat_ids, crowded) if self.results else None
            out.update({f"{name}_crowded": value for name, value in _stats(crowded_ev, {"AP": 0, "AP50": 1}).items()})
        if not per_category:
            return out
        for k, (name, cat) in enumerate(zip(self.class_names, self.cat_ids, strict=True)):
            if not self.coco.getAnnIds(catIds=[cat]):
                continue
            out[f"AP/{name}"], out[f"AP50/{name}"] = _category_ap(ev, k)
        return out


def _category_ap(ev: COCOeval | None, k: int) -> tuple[float, float]:
    """AP (IoU .50:.95) and AP50 of category ``k`` (its index in ``params.catIds``), all areas, 100 dets."""
    if ev is None:
        return 0.0, 0.0
    precision = ev.eval["precision"][:, :, k, 0, -1]  # (T IoU thresholds, R recall points)
    ap = [float(p[p > -1].mean()) if (p > -1).any() else 0.0 for p in precision]
    return float(np.mean(ap)), ap[0]


class COCOKeypointEvaluator:
    """Keypoint OKS AP of pose estimates (one result per person) against COCO person keypoints."""

    def __init__(self, gt: str | Path | Mapping | COCO, category_id: int = 1,
                 sigmas: Sequence[float] | None = None):
        self.coco = load_coco(gt)
        self.category_id = category_id
        self.sigmas = None if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        self.results: list[dict] = []
        self.image_ids: set[int] = set()

    def reset(self) -> None:
        self.results, self.image_ids = [], set()

    def process(self, image_id: int, prediction: Mapping[str, torch.Tensor | np.ndarray]) -> None:
        """``keypoints (N, K, 2)`` image pixels, ``keypoint_scores (N, K)``, ``scores (N,)`` person scores."""
        kps = np.asarray(_cpu(prediction["keypoints"]), dtype=np.float64)
        kscores = np.asarray(_cpu(prediction["keypoint_scores"]), dtype=np.float64)
        scores = np.asarray(_cpu(prediction["scores"]), dtype=np.float64).reshape(-1)
        if kps.ndim != 3 or kps.shape[2] != 2 or kscores.shape != kps.shape[:2] or len(scores) != len(kps):
            raise ValueError(f"image {image_id}: keypoints (N, K, 2), keypoint_scores (N, K), scores (N,) expected, "
                             f"got {kps.shape}, {kscores.shape}, {scores.shape}")
        self.image_ids.add(int(image_id))
        for xy, ks, s in zip(kps, kscores, scores, strict=True):
            flat = np.concatenate([xy, ks[:, None]], axis=1).reshape(-1)
            self.results.append({"image_id": int(image_id), "category_id": self.category_id,
                                 "keypoints": [float(v) for v in flat], "score": float(s)})

    def evaluate(self) -> dict[str, float]:
        """``AP, AP50, AP75, AP_medium, AP_large, AR`` (OKS); no result at all gives 0."""
        if not self.results:
            return _stats(None, _KPT_STATS)
        ev = _summarize(self.coco, self.results, "keypoints", [self.category_id], self.image_ids, self.sigmas)
        return _stats(ev, _KPT_STATS)


def _cpu(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
