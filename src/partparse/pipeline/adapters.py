"""Our image models behind the parser's stage Protocols (:mod:`partparse.pipeline.stages`).

- :class:`YOLOFPersonDetector` (:class:`~partparse.pipeline.stages.PersonDetector`): a YOLOF on whole frames;
- :class:`HRNetPoseEstimator` (:class:`~partparse.pipeline.stages.PoseEstimator`): top-down HRNet on
  affine person crops;
- :class:`YOLOFPartDetector` (:class:`~partparse.pipeline.stages.PartDetector`): a second YOLOF on person
  crops, with the keypoints drawn as coloured dots when it is given keypoints (pose guidance).

Each adapter wraps a model object (in eval mode, on the device it already lives on) and a small typed
config. Frames are uint8 RGB ``(H, W, 3)`` numpy arrays; boxes are float ``xyxy`` in continuous frame
pixels (``x2 = x1 + width``), as the Protocols state. Video-level scorers are in
:mod:`partparse.pipeline.video_scorers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from partparse.data.vocabulary import BODY_PARTS
from partparse.models.hrnet import PoseHRNet, estimate_poses
from partparse.models.keypoint_codec import crop_boxes
from partparse.pipeline.pose_guidance import (
    crop_person,
    draw_keypoint_dots,
    keypoints_to_crop,
    parts_to_frame,
    select_top1_per_part,
)
from partparse.pipeline.stages import PartDetections, PersonDetections


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def image_to_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    """uint8 ``(H, W, 3)`` -> float ``(3, H, W)`` in ``[0, 1]`` on ``device`` (bytes move, then convert)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).float().div_(255)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, max(1, size))]


# ---------------------------------------------------------------------------------------------- persons
@dataclass
class PersonDetectorConfig:
    """``score_thr``: keep persons scoring at least this (best first; the parser keeps its
    ``top_k_persons``); ``person_label``: the detector's class index of "person" (``None``:
    0, a one-class detector or a COCO model loaded with ``classes=(0,)``; a parse recipe looks it up in
    the trained model's class names); ``batch_size``: frames a forward pass."""

    score_thr: float = 0.3
    person_label: int | None = None
    batch_size: int = 8


class YOLOFPersonDetector:
    """Persons in batches of frames with a YOLOF (:class:`partparse.models.yolof.YOLOF`)."""

    def __init__(self, model: nn.Module, config: PersonDetectorConfig | None = None) -> None:
        self.model = model.eval()
        self.config = config if config is not None else PersonDetectorConfig()

    @torch.no_grad()
    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]:
        device, cfg = _device_of(self.model), self.config
        out: list[PersonDetections] = []
        for part in _chunks(len(frames), cfg.batch_size):
            dets = self.model([image_to_tensor(f, device) for f in frames[part]])
            for d in dets:
                keep = (d["labels"] == (cfg.person_label or 0)) & (d["scores"] >= cfg.score_thr)
                found = PersonDetections(d["boxes"][keep].float().cpu().numpy(),
                                         d["scores"][keep].float().cpu().numpy())
                out.append(found.top(len(found)))
        return out


# ------------------------------------------------------------------------------------------------- pose
@dataclass
class PoseEstimatorConfig:
    """``flip_test``: average with the horizontally flipped crop (``None``: the model's own setting);
    ``padding``: crop size over box size (``None``: mmpose's 1.25; a parse recipe takes the trained
    model's ``input.padding``); ``batch_size``: person crops a forward pass."""

    flip_test: bool | None = None
    padding: float | None = None
    batch_size: int = 32


class HRNetPoseEstimator:
    """The 17 COCO keypoints of person boxes with a top-down HRNet (:class:`~partparse.models.hrnet.PoseHRNet`).

    A ``flip_test`` set in the config replaces the model's (the adapter owns the model it wraps).
    """

    def __init__(self, model: PoseHRNet, config: PoseEstimatorConfig | None = None) -> None:
        config = config if config is not None else PoseEstimatorConfig()
        if config.flip_test is not None and config.flip_test != model.config.flip_test:
            model.config = replace(model.config, flip_test=config.flip_test)
        self.model = model.eval()
        self.config = config
        self.padding = 1.25 if config.padding is None else config.padding

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frame (H, W, 3)`` uint8, ``boxes (N, 4)`` -> frame-pixel ``keypoints (N, 17, 2)``, ``scores (N, 17)``."""
        k = self.model.config.num_keypoints
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        device = _device_of(self.model)
        image = image_to_tensor(frame, device)
        kps, scores = [], []
        for part in _chunks(len(boxes), self.config.batch_size):
            kp, sc = estimate_poses(self.model, image, torch.from_numpy(boxes[part]).to(device), self.padding)
            kps.append(kp.float().cpu().numpy())
            scores.append(sc.float().cpu().numpy())
        return np.concatenate(kps), np.concatenate(scores)

    @torch.no_grad()
    def estimate_frames(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`estimate` of several frames, with the crops of all of them in the same forward passes
        (``batch_size`` crops each): SynTPS keyframes hold 1-3 persons, and a forward pass of one or two
        crops costs 2-3 times more per crop than one of 16. The crops have one size (no padding), so a
        crop's keypoints do not depend on its batchmates."""
        k = self.model.config.num_keypoints
        device = _device_of(self.model)
        boxes = [np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in boxes]
        crops, transforms = [], []
        for frame, b in zip(frames, boxes, strict=True):
            if len(b):
                c, t = crop_boxes(image_to_tensor(frame, device), torch.from_numpy(b).to(device),
                                  self.model.config.codec.input_size, self.padding)
                crops.append(c)
                transforms.append(t)
        if not crops:
            return [(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)) for _ in boxes]
        crops = torch.cat(crops)
        outs = []
        for part in _chunks(len(crops), self.config.batch_size):
            outs += self.model(crops[part])
        keypoints = torch.stack([o["keypoints"] for o in outs])
        scores = torch.stack([o["scores"] for o in outs])
        results, start, used = [], 0, 0
        for b in boxes:
            if not len(b):
                results.append((np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)))
                continue
            kp = transforms[used].to_image(keypoints[start:start + len(b)])
            results.append((kp.float().cpu().numpy(), scores[start:start + len(b)].float().cpu().numpy()))
            start, used = start + len(b), used + 1
        return results


# ------------------------------------------------------------------------------------------------ parts
@dataclass
class PartDetectorConfig:
    """``part_names[i]``: body part of the detector's class ``i`` (``None``: :data:`BODY_PARTS`; a parse
    recipe takes the trained model's class names); ``score_thr``: keep parts scoring at
    least this; ``crop_margin``: person box grown by this fraction of its size on each side (what the
    part training crops used: ``partparse export-coco --margin``, 0.15); ``keypoint_score_thr``: dots
    are drawn only for keypoints at least this confident; ``batch_size``: crops a forward pass."""

    part_names: tuple[str, ...] | None = None
    score_thr: float = 0.05
    crop_margin: float = 0.15
    keypoint_score_thr: float = 0.3
    batch_size: int = 16


class YOLOFPartDetector:
    """Body parts on person crops with a YOLOF, top-1 per part, boxes mapped back to the frame.

    With keypoints (pose guidance) each crop gets its keypoints drawn as dots
    (:func:`~partparse.pipeline.pose_guidance.draw_keypoint_dots`) before detection; with ``None`` the
    plain crop is used.
    """

    def __init__(self, model: nn.Module, config: PartDetectorConfig | None = None) -> None:
        config = config if config is not None else PartDetectorConfig()
        self.part_names = tuple(config.part_names) if config.part_names is not None else BODY_PARTS
        num_classes = getattr(getattr(model, "config", None), "num_classes", None)
        if num_classes is not None and num_classes != len(self.part_names):
            raise ValueError(f"the part detector has {num_classes} classes but {len(self.part_names)} part names")
        self.model = model.eval()
        self.config = config

    def crops(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
              keypoint_scores: np.ndarray | None) -> tuple[list[np.ndarray], list]:
        """The detector's inputs: one uint8 crop per person (dots drawn when ``keypoints`` are given) and
        its :class:`~partparse.pipeline.pose_guidance.CropWindow`."""
        crops, windows = [], []
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)):
            # continuous -> inclusive corners, the convention the training crops were cut with
            crop, window = crop_person(frame, (x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)), self.config.crop_margin)
            if keypoints is not None:
                scores = None if keypoint_scores is None else keypoint_scores[i]
                crop = draw_keypoint_dots(crop, keypoints_to_crop(keypoints[i], window), scores,
                                          score_thr=self.config.keypoint_score_thr)
            crops.append(crop)
            windows.append(window)
        return crops, windows

    @torch.no_grad()
    def detect_parts(self, frame: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray | None,
                     keypoint_scores: np.ndarray | None) -> list[PartDetections]:
        crops, windows = self.crops(frame, boxes, keypoints, keypoint_scores)
        device, cfg = _device_of(self.model), self.config
        out: list[PartDetections] = []
        for part in _chunks(len(crops), cfg.batch_size):
            dets = self.model([image_to_tensor(c, device) for c in crops[part]])
            for det, window in zip(dets, windows[part], strict=True):
                det = {k: v.cpu() for k, v in det.items()}
                keep = det["scores"] >= cfg.score_thr
                best = select_top1_per_part({k: v[keep] for k, v in det.items()})
                frame_boxes = parts_to_frame(best["boxes"].float(), window).numpy()
                triples = zip(frame_boxes, best["scores"].tolist(), best["labels"].tolist(), strict=True)
                out.append(PartDetections({self.part_names[int(label)]: (box, float(score))
                                           for box, score, label in triples}))
        return out
