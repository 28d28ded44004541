"""Ground truth of a rendered frame: person and part boxes from the visible pixels, keypoint visibility.

Boxes are tight around the pixels a person or part *owns* in the label map after everything in front of
it was drawn, as integer inclusive corners inside the frame (``x2 <= width - 1``). A part is annotated
only when enough of it is visible; a person only when enough pixels of it are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partparse.data.synthetic.render import LABELS_PER_PERSON, LOCAL_LABELS, PersonDrawing, RenderedFrame
from partparse.data.synthetic.scene import Scene
from partparse.data.synthetic.skeleton import FACE_KEYPOINTS, PARAM_INDEX
from partparse.structures import PartAnnotation, PersonAnnotation


@dataclass(frozen=True)
class VisibilityRule:
    """A part is visible with ``>= max(min_part_pixels, min_part_fraction * its unoccluded area)``
    pixels; a person with ``>= min_person_pixels``."""

    min_part_pixels: int = 6
    min_part_fraction: float = 0.15
    min_person_pixels: int = 40


@dataclass
class FramePerson:
    """One visible person of a frame: scene slot, annotation (with keypoints) and visible pixel count."""

    slot: int
    annotation: PersonAnnotation
    area: int


def _label_boxes(sub: np.ndarray, base: int, x0: int, y0: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts ``(L,)`` and tight inclusive boxes ``(L, 4)`` (image px) of labels ``base + i``,
    ``i < L = LABELS_PER_PERSON``, in the label window ``sub`` whose corner is ``(x0, y0)``; boxes of
    absent labels are undefined."""
    local = sub - np.uint8(base)                        # wraps: labels below base become large
    ys, xs = np.nonzero(local < LABELS_PER_PERSON)
    which = local[ys, xs].astype(np.intp)
    counts = np.bincount(which, minlength=LABELS_PER_PERSON)
    lo = np.full((LABELS_PER_PERSON, 2), np.iinfo(np.intp).max)
    hi = np.full((LABELS_PER_PERSON, 2), -1)
    for axis, coords in enumerate((xs, ys)):
        np.minimum.at(lo[:, axis], which, coords)
        np.maximum.at(hi[:, axis], which, coords)
    return counts, np.concatenate([lo, hi], axis=1) + [x0, y0, x0, y0]


def keypoint_visibility(drawing: PersonDrawing, labels: np.ndarray, facing: int,
                        head_yaw: float) -> list[tuple[float, float, int]]:
    """COCO ``(x, y, v)`` per joint: 2 visible, 1 inside the frame but covered (by an occluder, another
    person, or the head when facing away), 0 outside the frame (then x = y = 0, as in COCO)."""
    h, w = labels.shape
    base = 1 + drawing.slot * LABELS_PER_PERSON
    kp = np.round(drawing.keypoints, 2)
    x, y = kp[:, 0], kp[:, 1]
    in_frame = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    owner = labels[np.rint(np.where(in_frame, y, 0)).astype(int), np.rint(np.where(in_frame, x, 0)).astype(int)]
    visible = (owner >= base) & (owner < base + LABELS_PER_PERSON)
    if facing < 0:
        visible[list(FACE_KEYPOINTS)] = False
    if abs(head_yaw) > 0.5:                                     # the ear on the far side is hidden
        visible[3] &= facing * head_yaw > 0                     # image-x side of the left ear: facing
        visible[4] &= -facing * head_yaw > 0
    return [(float(xj), float(yj), 2 if vj else 1) if ij else (0.0, 0.0, 0)
            for xj, yj, ij, vj in zip(x, y, in_frame, visible, strict=True)]


def annotate_frame(scene: Scene, t: int, frame: RenderedFrame, states: list[np.ndarray],
                   rule: VisibilityRule = VisibilityRule()) -> list[FramePerson]:
    """Visible persons of rendered frame ``t`` in slot order. ``states[slot]`` holds that person's 10
    part states of this frame (BODY_PARTS order)."""
    labels = frame.labels
    people = []
    for drawing in frame.people:
        x0, y0, x1, y1 = drawing.window
        if x0 >= x1 or y0 >= y1:
            continue
        counts, boxes = _label_boxes(labels[y0:y1, x0:x1], 1 + drawing.slot * LABELS_PER_PERSON, x0, y0)
        area = int(counts.sum())
        if area < rule.min_person_pixels:
            continue
        parts = {}
        for local, name in enumerate(LOCAL_LABELS):
            if local == 0:
                continue
            count = int(counts[local])
            if count and count >= max(rule.min_part_pixels, rule.min_part_fraction * drawing.full_area[local]):
                parts[name] = PartAnnotation(tuple(int(v) for v in boxes[local]), str(states[drawing.slot][local - 1]))
        person = scene.persons[drawing.slot]
        yaw = float(person.schedule.pose[t, PARAM_INDEX["head_yaw"]])
        kps = keypoint_visibility(drawing, labels, person.facing, yaw)
        present = boxes[counts > 0]
        box = (int(present[:, 0].min()), int(present[:, 1].min()), int(present[:, 2].max()), int(present[:, 3].max()))
        people.append(FramePerson(drawing.slot, PersonAnnotation(box, parts, kps), area))
    return people
