"""COCO exports of a SynTPS (or any Kinetics-TPS-layout) split, for detector and pose training.

Images of annotated frames are **decoded from the written MP4 with PyAV**, so training sees the same
H.264 artefacts as the videos (not the clean renderer output). Three exports:

* :func:`export_person_detection` -- frames as JPEG + ``persons_{split}.json`` (one category, person);
* :func:`export_part_detection` -- person crops (box enlarged by ``margin`` of its size on each side,
  clipped to the frame) as JPEG + ``parts_{split}.json`` with the 10 parts as categories, boxes in crop
  pixels; each crop's image entry also holds the person's 17 COCO keypoints in crop pixels
  (``keypoints: [x, y, v] * 17``, ``v = 0`` joints at ``(0, 0)``) when they are known (from the persons
  of the ground truth, else from ``keypoints_{split}.json``), for pose-guided part detection, and its
  ``crowding``: the largest fraction of the crop that another person's box of the frame covers
  (:func:`crop_crowding`; where a detector without keypoint dots cannot tell whose hand it sees);
* :func:`export_pose` -- frames + ``person_keypoints_{split}.json`` (COCO person_keypoints style, from
  ``keypoints_{split}.json``).

Boxes convert from inclusive corners to COCO ``[x, y, w, h]`` with ``w = x2 - x1 + 1``.

Inputs are checked before anything is written (:func:`check_export_inputs`): the ground truth through
the Kinetics-TPS reader (whose video ids are plain file names, so every image lands in ``out_dir``),
the keypoints file for its COCO structure, the crop margin. Each problem is an InputError naming the
file and the place.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from partparse.data.synthetic.keypoints_coco import PERSON_CATEGORY, xywh
from partparse.data.synthetic.layout import SynthLayout, frame_image_name
from partparse.data.synthetic.video_io import read_frames
from partparse.data.tps_format import load_ground_truth
from partparse.data.vocabulary import BODY_PARTS
from partparse.io import InputError, atomic_write, read_json, write_json
from partparse.structures import VideoAnnotation, frame_index

PART_CATEGORIES = [{"id": i + 1, "name": name, "supercategory": "body_part"} for i, name in enumerate(BODY_PARTS)]


def _save_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    atomic_write(path, lambda fh: Image.fromarray(rgb).save(fh, format="JPEG", quality=quality), mode="wb")


def check_margin(margin: float) -> float:
    """``margin`` if it is a finite number >= 0, else :class:`InputError`."""
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
        raise InputError(f"--margin must be a finite number >= 0 (a fraction of the person box), got {margin}")
    return margin


def check_split(split: str) -> str:
    """``split`` if it is a plain name (``train``, ``val``, ``test_1``): it names folders and output files."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", split):
        raise InputError(f"--split must be a plain name of letters, digits, '_' and '-' (train, val), got {split!r}")
    return split


def check_export_inputs(root: str | Path, split: str, margin: float = 0.15, parts: bool = True,
                        pose: bool = True) -> None:
    """Everything the exports of ``split`` read, checked before any of them writes: the margin, the ground
    truth (:func:`load_ground_truth`, its frame keys) and ``keypoints_{split}.json``, which the part export
    reads where it exists and the pose export needs. Raises :class:`InputError` naming the file and the place."""
    check_margin(margin)
    check_split(split)
    _ground_truth(root, split)
    path = SynthLayout(root).keypoints(split)
    if pose or (parts and os.path.lexists(path)):
        read_keypoints_coco(path)


def _ground_truth(root: str | Path, split: str) -> dict[str, VideoAnnotation]:
    """The split's ground truth, every frame key a Kinetics-TPS one (frame numbers name the images)."""
    gt_dir = SynthLayout(root).gt_dir(split)
    videos = load_ground_truth(gt_dir)
    for video in videos.values():
        for frame in video.frames:
            try:
                frame_index(frame.key)
            except ValueError as err:
                raise InputError(f"{gt_dir / 'gt_part_result.json'} [video {video.video_id}]: {err}") from None
    return videos


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def read_keypoints_coco(path: str | Path) -> dict:
    """A COCO person-keypoints file (``keypoints_{split}.json``), checked: ``images`` with an ``id`` and a
    ``file_name``, ``annotations`` of a known ``image_id`` with a ``bbox`` of 4 numbers and ``keypoints`` of
    ``3 * 17`` numbers. Anything else raises :class:`InputError` naming the file and the entry."""
    coco = read_json(path)
    if not isinstance(coco, dict):
        raise InputError(f"{path}: expected a COCO object with 'images' and 'annotations', got {type(coco).__name__}")
    images, anns = coco.get("images", []), coco.get("annotations", [])
    for key, value in (("images", images), ("annotations", anns)):
        if not isinstance(value, list):
            raise InputError(f"{path}: '{key}' must be a list, got {type(value).__name__}")
    ids = set()
    for i, img in enumerate(images):
        if not (isinstance(img, dict) and isinstance(img.get("id"), int) and isinstance(img.get("file_name"), str)):
            raise InputError(f"{path} [images {i}]: an image needs an integer 'id' and a string 'file_name'")
        ids.add(img["id"])
    for i, ann in enumerate(anns):
        where = f"{path} [annotations {i}]"
        if not isinstance(ann, dict) or ann.get("image_id") not in ids:
            raise InputError(f"{where}: an annotation needs the 'image_id' of one of the images")
        bbox, kps = ann.get("bbox"), ann.get("keypoints")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))):
            raise InputError(f"{where}: 'bbox' must be 4 numbers [x, y, w, h], got {_short(bbox)}")
        if not (isinstance(kps, list) and len(kps) == 3 * 17 and all(map(_is_number, kps))):
            raise InputError(f"{where}: 'keypoints' must be 51 numbers [x, y, v] * 17, got {_short(kps)}")
    return coco


def _short(v: Any, limit: int = 40) -> str:
    text = repr(v) if not isinstance(v, (list, dict)) or len(v) < 64 else f"a {type(v).__name__} of {len(v)}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def annotated_frames(root: str | Path, split: str) -> Iterator[tuple[VideoAnnotation, int, np.ndarray]]:
    """``(video, frame position in video.frames, RGB image)`` for every annotated frame of a split,
    decoding each MP4 once."""
    layout = SynthLayout(root)
    for video in _ground_truth(root, split).values():
        indices = [frame_index(f.key) for f in video.frames]
        path = layout.video(split, video.action, video.video_id)
        decoded = read_frames(path, indices)
        for pos, k in enumerate(indices):
            if k not in decoded:
                raise InputError(f"{path}: has no frame {k} (annotated as {video.frames[pos].key})")
            yield video, pos, decoded[k]


def export_person_detection(root: str | Path, split: str, out_dir: str | Path, quality: int = 92) -> Path:
    """Write ``out_dir/images/*.jpg`` and ``out_dir/persons_{split}.json``; returns the JSON path."""
    out_dir = Path(out_dir)
    images, annotations = [], []
    for video, pos, rgb in annotated_frames(root, split):
        frame = video.frames[pos]
        name = frame_image_name(video.video_id, frame.index)
        _save_jpeg(out_dir / "images" / name, rgb, quality)
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": rgb.shape[1], "height": rgb.shape[0],
                       "video_id": video.video_id, "frame_index": frame.index})
        for person in frame.persons:
            box = xywh(person.box)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "bbox": box,
                                "area": box[2] * box[3], "iscrowd": 0})
    category = {k: PERSON_CATEGORY[k] for k in ("id", "name", "supercategory")}
    return write_json(out_dir / f"persons_{split}.json",
                      {"images": images, "annotations": annotations, "categories": [category]})


def crop_box(box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Person box enlarged by ``margin`` times its width/height on each side, clipped, inclusive ints."""
    x1, y1, x2, y2 = box
    mx, my = margin * (x2 - x1 + 1), margin * (y2 - y1 + 1)
    return (max(int(np.floor(x1 - mx)), 0), max(int(np.floor(y1 - my)), 0),
            min(int(np.ceil(x2 + mx)), width - 1), min(int(np.ceil(y2 + my)), height - 1))


def crop_crowding(crop: tuple[int, int, int, int], others: list) -> float:
    """The largest fraction of ``crop`` (inclusive ``x1, y1, x2, y2`` pixels) covered by one of the
    ``others`` boxes (the same), rounded to 3 decimals; 0 with no other box."""
    x1, y1, x2, y2 = crop
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    covered = [max(0, min(x2, b[2]) - max(x1, b[0]) + 1) * max(0, min(y2, b[3]) - max(y1, b[1]) + 1) for b in others]
    return round(max(covered, default=0) / area, 3)


def _keypoints_by_image(root: str | Path, split: str) -> dict[str, list[dict]]:
    """``{image file name: [keypoint annotation, ...]}`` of ``keypoints_{split}.json`` ({} if absent)."""
    path = SynthLayout(root).keypoints(split)
    if not path.is_file():
        return {}
    coco = read_keypoints_coco(path)
    names = {img["id"]: img["file_name"] for img in coco.get("images", [])}
    out: dict[str, list[dict]] = {}
    for ann in coco.get("annotations", []):
        out.setdefault(names[ann["image_id"]], []).append(ann)
    return out


def _person_keypoints(person, j: int, frame_anns: list[dict], where: str) -> list[float] | None:
    """The person's ``[x, y, v] * 17`` in frame pixels: its own keypoints, else the ``j``-th annotation of
    its frame in ``keypoints_{split}.json`` (same order as the frame's humans; the boxes must agree)."""
    if person.keypoints:
        return [float(v) for kp in person.keypoints for v in kp]
    if not frame_anns:
        return None
    if j >= len(frame_anns) or frame_anns[j]["bbox"] != xywh(person.box):
        raise InputError(f"{where}: person {j} has no keypoint annotation with its box {xywh(person.box)}")
    return [float(v) for v in frame_anns[j]["keypoints"]]


def _to_crop(keypoints: list[float], x0: int, y0: int) -> list[float]:
    out = []
    for x, y, v in zip(keypoints[0::3], keypoints[1::3], keypoints[2::3], strict=True):
        out += [round(x - x0, 2), round(y - y0, 2), int(v)] if v > 0 else [0, 0, 0]
    return out


def export_part_detection(root: str | Path, split: str, out_dir: str | Path, margin: float = 0.15,
                          quality: int = 92) -> Path:
    """Write ``out_dir/crops/*.jpg`` (one per GT person) and ``out_dir/parts_{split}.json``."""
    check_margin(margin)
    out_dir = Path(out_dir)
    part_id = {c["name"]: c["id"] for c in PART_CATEGORIES}
    keypoints = _keypoints_by_image(root, split)
    images, annotations = [], []
    for video, pos, rgb in annotated_frames(root, split):
        frame = video.frames[pos]
        h, w = rgb.shape[:2]
        frame_name = frame_image_name(video.video_id, frame.index)
        for j, person in enumerate(frame.persons):
            cx1, cy1, cx2, cy2 = crop_box(person.box, margin, w, h)
            name = frame_name.replace(".jpg", f"_p{j}.jpg")
            _save_jpeg(out_dir / "crops" / name, rgb[cy1:cy2 + 1, cx1:cx2 + 1], quality)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": name, "width": cx2 - cx1 + 1, "height": cy2 - cy1 + 1,
                           "video_id": video.video_id, "frame_index": frame.index, "person": j,
                           "crop_box": [cx1, cy1, cx2, cy2],
                           "crowding": crop_crowding((cx1, cy1, cx2, cy2),
                                                     [p.box for k, p in enumerate(frame.persons) if k != j])})
            kps = _person_keypoints(person, j, keypoints.get(frame_name, []), f"{video.video_id} {frame.key}")
            if kps is not None:
                images[-1]["keypoints"] = _to_crop(kps, cx1, cy1)
            for part_name, part in person.parts.items():
                x1, y1, x2, y2 = part.box
                box = [int(x1) - cx1, int(y1) - cy1, int(x2 - x1) + 1, int(y2 - y1) + 1]
                annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                    "category_id": part_id[part_name], "bbox": box, "area": box[2] * box[3],
                                    "iscrowd": 0, "state": part.state})
    return write_json(out_dir / f"parts_{split}.json",
                      {"images": images, "annotations": annotations, "categories": PART_CATEGORIES})


def export_pose(root: str | Path, split: str, out_dir: str | Path, quality: int = 92) -> Path:
    """Write ``out_dir/images/*.jpg`` and ``out_dir/person_keypoints_{split}.json``."""
    out_dir = Path(out_dir)
    coco = read_keypoints_coco(SynthLayout(root).keypoints(split))
    wanted = {img["file_name"] for img in coco.get("images", [])}
    for video, pos, rgb in annotated_frames(root, split):
        name = frame_image_name(video.video_id, video.frames[pos].index)
        if name in wanted:
            _save_jpeg(out_dir / "images" / name, rgb, quality)
            wanted.discard(name)
    if wanted:
        raise InputError(f"{SynthLayout(root).keypoints(split)}: {len(wanted)} images have no annotated frame, "
                         f"e.g. {sorted(wanted)[0]}")
    return write_json(out_dir / f"person_keypoints_{split}.json", coco)
