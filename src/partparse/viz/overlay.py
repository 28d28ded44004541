"""Draw a parsed video: person boxes, keypoint skeletons, part boxes with name and state, the action.

:func:`draw_frame` annotates one RGB frame with one :class:`~partparse.structures.FramePrediction`;
:func:`render_overlay` writes an H.264 MP4 of a whole video with PyAV, every decoded frame showing the
prediction of the latest keyframe at or before it (predictions exist only on keyframes), so the overlay
has the source's frame count and rate. Boxes are Kinetics-TPS inclusive pixels; keypoints are
``(x, y, score)`` frame pixels.

What is drawn is a display choice (:class:`OverlayStyle`), never a change of the prediction: weak
detectors propose several overlapping boxes for one person, and ten labelled parts per person make a
frame unreadable, so by default persons that overlap a better one are hidden and only parts doing
something (a state other than ``none`` / ``unknown``) are labelled; every part box keeps its colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.ops import nms

from partparse.data.synthetic.video_io import H264Writer
from partparse.data.video_reader import VideoReader
from partparse.structures import FramePrediction, PersonPrediction, VideoPrediction, frame_index

#: COCO skeleton as pairs of 0-based keypoint indices (limbs, torso, face).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
#: Person colours: one per track id (cycled) when the persons have track ids, else by rank in the frame.
PERSON_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)
#: Part box colours by part name (left and right share a hue, right darker); other names: white.
PART_COLOURS: dict[str, tuple[int, int, int]] = {
    "head": (255, 255, 255), "hip": (255, 160, 0),
    "left_arm": (120, 200, 255), "right_arm": (40, 110, 200),
    "left_hand": (255, 120, 220), "right_hand": (190, 40, 150),
    "left_leg": (140, 255, 140), "right_leg": (40, 160, 60),
    "left_foot": (255, 240, 120), "right_foot": (190, 170, 30),
}
PART_COLOUR = (255, 255, 255)
#: States that mean "nothing to say" (not labelled with ``part_labels="active"``).
QUIET_STATES = frozenset({"none", "unknown"})


@dataclass(frozen=True)
class OverlayStyle:
    """What an overlay shows (the prediction itself is never changed).

    ``min_person_score``: hide persons scoring below it; ``max_persons``: draw at most this many (best
    first); ``person_nms_iou``: hide a person whose box overlaps a better-scoring shown one by more than
    this IoU (``None``: show overlaps); ``part_labels``: ``"active"`` labels parts whose state is not
    ``none``/``unknown``, ``"all"`` every part, ``"none"`` no part text (boxes are always drawn);
    ``keypoint_thr``: draw keypoints scoring at least this.
    """

    min_person_score: float = 0.0
    max_persons: int = 10
    person_nms_iou: float | None = 0.5
    part_labels: str = "active"
    keypoint_thr: float = 0.3

    def __post_init__(self) -> None:
        if self.part_labels not in ("active", "all", "none"):
            raise ValueError(f"part_labels must be 'active', 'all' or 'none', got {self.part_labels!r}")
        if self.max_persons < 0:
            raise ValueError(f"max_persons must be >= 0, got {self.max_persons}")


#: Every person, every part label: what the prediction holds, unfiltered.
SHOW_ALL = OverlayStyle(person_nms_iou=None, part_labels="all")


def shown_persons(frame: FramePrediction | None, style: OverlayStyle) -> list:
    """The persons of ``frame`` that ``style`` draws, best-scoring first (no score counts as 1)."""
    persons = [p for p in (frame.persons if frame is not None else [])
               if p.score is None or p.score >= style.min_person_score]
    scores = torch.tensor([1.0 if p.score is None else p.score for p in persons], dtype=torch.float64)
    order = torch.argsort(scores, descending=True, stable=True)
    if style.person_nms_iou is not None and len(persons) > 1:
        boxes = torch.tensor([p.box for p in persons], dtype=torch.float64)
        order = nms(boxes, scores, style.person_nms_iou)  # kept indices, best first
    persons = [persons[i] for i in order.tolist()]
    return persons[:style.max_persons]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable built-in font
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def person_colour(person: PersonPrediction, rank: int) -> tuple[int, int, int]:
    """The colour of a person: its track's (the same in every frame) when it has a track id, else its
    rank's in this frame."""
    key = rank if person.track_id is None else person.track_id - 1
    return PERSON_COLOURS[key % len(PERSON_COLOURS)]


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour, font) -> None:
    """Text on a dark box (readable on any background), kept inside the image at the top."""
    x, y = xy
    left, top, right, bottom = draw.textbbox((x, y), text, font=font)
    y = max(0.0, y - (bottom - top) - 2)
    left, top, right, bottom = draw.textbbox((x, y), text, font=font)
    draw.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=(0, 0, 0))
    draw.text((x, y), text, fill=colour, font=font)


def draw_frame(image: np.ndarray, frame: FramePrediction | None, action: str | None = None,
               action_score: float | None = None, zoom: float = 1.0,
               style: OverlayStyle = OverlayStyle()) -> np.ndarray:
    """A copy of uint8 ``(H, W, 3)`` ``image`` with ``frame``'s persons, skeletons and parts drawn, as
    ``style`` says.

    ``zoom``: ``image`` is the frame resized by this factor (thumbnails): coordinates are scaled, while
    lines and text keep sizes readable at the image's own resolution.
    """
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    unit = max(1, round(min(image.shape[:2]) / 240))  # line/text size unit: 1 px per 240 px of image
    font = _font(8 * unit)

    def xy(values) -> list[float]:
        return [float(v) * zoom for v in values]

    for i, person in enumerate(shown_persons(frame, style)):
        colour = person_colour(person, i)
        box = xy(person.box)
        draw.rectangle(box, outline=colour, width=2 * unit)
        if person.keypoints:
            kp = np.asarray(person.keypoints, dtype=np.float64)
            ok = kp[:, 2] >= style.keypoint_thr if kp.shape[1] > 2 else np.ones(len(kp), bool)
            pts = kp[:, :2] * zoom
            for a, b in COCO_SKELETON:
                if a < len(kp) and b < len(kp) and ok[a] and ok[b]:
                    draw.line([tuple(pts[a]), tuple(pts[b])], fill=colour, width=unit)
            for x, y in pts[ok]:
                draw.ellipse([x - 2 * unit, y - 2 * unit, x + 2 * unit, y + 2 * unit], fill=colour)
        for name, proposals in person.parts.items():
            if proposals:
                part, state = xy(proposals[0].box), proposals[0].state
                part_colour = PART_COLOURS.get(name, PART_COLOUR)
                draw.rectangle(part, outline=part_colour, width=1)
                if style.part_labels == "all" or (style.part_labels == "active" and state not in QUIET_STATES):
                    _label(draw, (part[0], part[1]), f"{name}: {state}", part_colour, font)
        tag = " ".join(t for t in (f"#{person.track_id}" if person.track_id is not None else "",
                                   f"{person.score:.2f}" if person.score is not None else "") if t)
        if tag:
            _label(draw, (box[0], box[1]), tag, colour, font)
    if action is not None:
        text = action if action_score is None else f"{action} ({action_score:.2f})"
        _label(draw, (4, 16 * unit), text, (255, 255, 255), _font(12 * unit))
    return np.asarray(canvas)


def render_overlay(video_path: str | Path, prediction: VideoPrediction, out_path: str | Path,
                   action_score: float | None = None, chunk: int = 32, crf: int = 23,
                   style: OverlayStyle = OverlayStyle()) -> Path:
    """Write ``out_path`` (MP4, H.264): every frame of ``video_path`` with the prediction of the latest
    keyframe at or before it. Odd frame sizes are padded by one black pixel (yuv420p needs even sizes).
    The file appears atomically when complete."""
    keyed = {frame_index(f.key): f for f in prediction.frames}
    with VideoReader(video_path) as reader:
        n, height, width = reader.num_frames, reader.height, reader.width
        fps = Fraction(reader.fps).limit_denominator(10000)  # 30000/1001 stays exact
        with H264Writer(out_path, width + width % 2, height + height % 2, fps, crf=crf) as writer:
            current = None
            for start in range(0, n, chunk):
                frames = reader.read_frames(np.arange(start, min(start + chunk, n)))
                for k, image in enumerate(frames, start=start):
                    current = keyed.get(k, current)
                    drawn = draw_frame(image, current, prediction.action, action_score, style=style)
                    if width % 2 or height % 2:
                        drawn = np.pad(drawn, ((0, height % 2), (0, width % 2), (0, 0)))
                    writer.write(drawn)
    return Path(out_path)
