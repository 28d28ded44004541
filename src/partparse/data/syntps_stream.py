"""SynTPS rendered on the fly: endless, never-repeating training data for the spatial models.

Item ``i`` of a stream is one frame of a fresh SynTPS scene drawn from ``(seed, i)`` alone (the same
generator as ``partparse synth``: :func:`~partparse.data.synthetic.scene.sample_scene`, rendered and
annotated as the dataset's frames are), so a stream is deterministic per seed yet, with a length far
beyond the number of samples a run draws, cannot be memorised. One scene + frame costs little next to a
detector step (docs/benchmarks.md, "Timings behind design choices"). The frame goes through a JPEG round
trip of random quality (``jpeg_quality``): the benchmark's images are H.264-decoded frames saved as JPEG,
and a model trained on clean renders would meet compression artefacts first at validation.

Three views of the same frames, each item shaped as the matching COCO dataset's so the tasks' collate
and step functions take them unchanged:

* :class:`SynTPSPersonStream` -- whole frames with person boxes (:class:`~partparse.data.coco_detection.
  COCODetectionDataset` items);
* :class:`SynTPSPartStream` -- one person crop per item (the box enlarged by ``margin`` on each side as
  ``partparse export-coco`` crops, optionally jittered like a detector's box) with its part boxes, and
  its ground-truth keypoints drawn as dots when ``pose_guidance`` (the part-detection export's items);
* :class:`SynTPSPoseStream` -- one person per item as a top-down crop with its 17 keypoints
  (:class:`~partparse.data.coco_keypoints.COCOTopDownDataset` items).

Boxes: the generator's inclusive integer corners ``(x1, y1, x2, y2)`` become continuous ``xyxy``
``(x1, y1, x2 + 1, y2 + 1)``, the boxes the COCO exports give (``w = x2 - x1 + 1``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from partparse.data.coco_detection import DetectionTransformConfig, detection_sample, left_right_permutation
from partparse.data.coco_keypoints import TopDownTransformConfig, topdown_sample
from partparse.data.synthetic.annotate import VisibilityRule, annotate_frame
from partparse.data.synthetic.generator import SYNTH_ACTIONS
from partparse.data.synthetic.render import render_frames
from partparse.data.synthetic.scene import sample_scene
from partparse.data.syntps_stream_config import SynTPSStreamConfig
from partparse.data.vocabulary import BODY_PARTS
from partparse.structures import COCO_KEYPOINTS, PersonAnnotation

# Third key of the per-item SeedSequence: apart from the generator's own (seed, index) and (seed, index, 1..3)
# streams, so a stream of seed s never replays video i of a dataset of seed s.
_STREAM_KEY = 0x5EED


@dataclass
class StreamFrame:
    """A rendered frame: ``rgb (H, W, 3)`` uint8 (after the JPEG round trip) and its visible persons
    (boxes, parts, keypoints ``[(x, y, v)] * 17`` in frame pixels); ``rng`` continues the item's stream
    for choices made on this frame (which person to crop)."""

    rgb: np.ndarray
    persons: list[PersonAnnotation]
    rng: np.random.Generator


def render_stream_frame(cfg: SynTPSStreamConfig, index: int) -> StreamFrame:
    """Frame ``index`` of the stream: a pure function of ``(cfg, index)``."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, index, _STREAM_KEY]))
    action = SYNTH_ACTIONS[int(rng.integers(len(SYNTH_ACTIONS)))]
    scene = sample_scene(rng, action, cfg.width, cfg.height, cfg.frames, cfg.fps, cfg.max_people)
    t = int(rng.integers(cfg.frames))
    frame = render_frames(scene, [t])[0]
    states = [p.schedule.states[t] for p in scene.persons]
    persons = [p.annotation for p in annotate_frame(scene, t, frame, states, VisibilityRule())]
    rgb = np.ascontiguousarray(frame.image)
    if cfg.jpeg_quality:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        rgb = np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return StreamFrame(rgb, persons, rng)


def xyxy_continuous(box) -> list[float]:
    """Inclusive integer corners -> continuous ``xyxy`` (``x2 + 1``, ``y2 + 1``)."""
    x1, y1, x2, y2 = box
    return [float(x1), float(y1), float(x2) + 1.0, float(y2) + 1.0]


class SynTPSPersonStream(Dataset):
    """Frames with their person boxes (label 0); items as :class:`COCODetectionDataset`'s, ``image_id`` =
    the index. Frames without a visible person are returned with no boxes (negatives)."""

    def __init__(self, cfg: SynTPSStreamConfig, transform: DetectionTransformConfig):
        self.cfg, self.transform = cfg, transform

    def __len__(self) -> int:
        return self.cfg.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        frame = render_stream_frame(self.cfg, index)
        boxes = torch.tensor([xyxy_continuous(p.box) for p in frame.persons], dtype=torch.float32).reshape(-1, 4)
        labels = torch.zeros(len(boxes), dtype=torch.int64)
        return detection_sample(frame.rgb, boxes, labels, index, self.transform, [0])


def jittered_crop(box, margin: float, jitter: float, width: int, height: int,
                  rng: np.random.Generator) -> tuple[int, int, int, int]:
    """:func:`~partparse.data.synthetic.export_coco.crop_box` of a person box whose sides were each moved
    by up to ``jitter`` times its width/height (uniform): crops as a detector's imperfect box gives them.
    Inclusive integer corners inside the frame."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1 + 1, y2 - y1 + 1
    if jitter > 0:
        d = rng.uniform(-jitter, jitter, 4) * [bw, bh, bw, bh]
        x1, y1, x2, y2 = x1 + d[0], y1 + d[1], max(x2 + d[2], x1 + d[0] + 1), max(y2 + d[3], y1 + d[1] + 1)
    mx, my = margin * (x2 - x1 + 1), margin * (y2 - y1 + 1)
    cx1, cy1 = min(max(int(np.floor(x1 - mx)), 0), width - 2), min(max(int(np.floor(y1 - my)), 0), height - 2)
    cx2 = max(min(int(np.ceil(x2 + mx)), width - 1), cx1 + 1)
    cy2 = max(min(int(np.ceil(y2 + my)), height - 1), cy1 + 1)
    return cx1, cy1, cx2, cy2


class SynTPSPartStream(Dataset):
    """One person crop per item with its part boxes (labels index ``class_names``, the 10 body parts);
    the person is drawn uniformly from the frame's visible ones (frames without one are skipped: the
    next index is tried). Part boxes are clipped to the crop; those left under 1 px are dropped.

    ``pose_guidance``: the person's keypoints (``v > 0``) drawn as dots, jittered by ``keypoint_noise``
    (fraction of the crop's longer side) in training: the parser draws a pose model's estimates.
    ``keypoint_source``: where the dots come from instead of the ground truth, called with the frame
    ``(H, W, 3)`` uint8 and the person's box ``(x1, y1, x2, y2)`` (continuous pixels), returning its
    ``(17, 3)`` keypoints ``[x, y, v]`` in frame pixels (``v = 0``: not drawn), e.g. a pose model's
    estimates (:class:`partparse.engine.estimated_keypoints.PoseModelKeypoints`), as the parser draws them.
    """

    def __init__(self, cfg: SynTPSStreamConfig, transform: DetectionTransformConfig,
                 class_names: list[str] | None = None, margin: float = 0.15, crop_jitter: float = 0.0,
                 pose_guidance: bool = False, keypoint_noise: float = 0.0,
                 keypoint_source: Callable[[np.ndarray, tuple[float, float, float, float]], np.ndarray] | None = None):
        self.cfg, self.transform, self.margin, self.crop_jitter = cfg, transform, margin, crop_jitter
        self.class_names = list(class_names or BODY_PARTS)
        unknown = [n for n in self.class_names if n not in BODY_PARTS]
        if unknown:
            raise ValueError(f"not a SynTPS body part: {unknown[0]!r} (parts: {', '.join(BODY_PARTS)})")
        self.label_of = {n: i for i, n in enumerate(self.class_names)}
        self.flip_perm = left_right_permutation(self.class_names)
        self.pose_guidance, self.keypoint_noise = pose_guidance, keypoint_noise
        self.keypoint_source = keypoint_source

    def __len__(self) -> int:
        return self.cfg.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        for k in range(self.cfg.length):
            frame = render_stream_frame(self.cfg, (index + k) % self.cfg.length)
            if frame.persons:
                break
        else:
            raise RuntimeError("no stream frame holds a visible person")
        person = frame.persons[int(frame.rng.integers(len(frame.persons)))]
        h, w = frame.rgb.shape[:2]
        cx1, cy1, cx2, cy2 = jittered_crop(person.box, self.margin, self.crop_jitter, w, h, frame.rng)
        crop = np.ascontiguousarray(frame.rgb[cy1:cy2 + 1, cx1:cx2 + 1])
        cw, ch = cx2 - cx1 + 1, cy2 - cy1 + 1
        boxes, labels = [], []
        for name, part in person.parts.items():
            if name not in self.label_of:
                continue
            x1, y1, x2, y2 = xyxy_continuous(part.box)
            x1, x2 = min(max(x1 - cx1, 0), cw), min(max(x2 - cx1, 0), cw)
            y1, y2 = min(max(y1 - cy1, 0), ch), min(max(y2 - cy1, 0), ch)
            if x2 - x1 >= 1 and y2 - y1 >= 1:
                boxes.append([x1, y1, x2, y2])
                labels.append(self.label_of[name])
        keypoints = None
        if self.pose_guidance:
            if self.keypoint_source is None:
                kp = torch.tensor(person.keypoints, dtype=torch.float32).view(-1, 3)
            else:
                source = self.keypoint_source(frame.rgb, tuple(xyxy_continuous(person.box)))
                kp = torch.as_tensor(np.asarray(source), dtype=torch.float32).view(-1, 3)
            keypoints = torch.where(kp[:, 2:] > 0, kp - torch.tensor([cx1, cy1, 0.0]), torch.zeros(3))
        return detection_sample(crop, torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                torch.tensor(labels, dtype=torch.int64), index, self.transform, self.flip_perm,
                                keypoints, self.keypoint_noise)


class SynTPSPoseStream(Dataset):
    """One person per item as a top-down crop (:func:`~partparse.data.coco_keypoints.topdown_sample`);
    the person is drawn uniformly among the frame's visible persons with at least ``min_keypoints``
    labelled joints (frames without one are skipped: the next index is tried)."""

    def __init__(self, cfg: SynTPSStreamConfig, transform: TopDownTransformConfig, min_keypoints: int = 1):
        self.cfg, self.transform, self.min_keypoints = cfg, transform, min_keypoints
        self.flip_perm = left_right_permutation(COCO_KEYPOINTS)

    def __len__(self) -> int:
        return self.cfg.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        for k in range(self.cfg.length):
            frame = render_stream_frame(self.cfg, (index + k) % self.cfg.length)
            people = [p for p in frame.persons if sum(v > 0 for _, _, v in p.keypoints) >= self.min_keypoints]
            if people:
                break
        else:
            raise RuntimeError("no stream frame holds a person with keypoints")
        person = people[int(frame.rng.integers(len(people)))]
        x1, y1, x2, y2 = xyxy_continuous(person.box)
        image: Tensor = torch.from_numpy(frame.rgb).permute(2, 0, 1).float().div_(255)
        kps = torch.tensor(person.keypoints, dtype=torch.float32).view(-1, 3)
        return topdown_sample(image, [x1, y1, x2 - x1, y2 - y1], kps, index, self.transform, self.flip_perm)
