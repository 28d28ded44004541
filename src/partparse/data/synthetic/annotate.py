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


def _tight_box(mask: np.ndarray, x0: int, y0: int) -> tuple[int, int, int, int]:
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]), y0 + int(rows[-1]))


def keypoint_visibility(drawing: PersonDrawing, labels: np.ndarray, facing: int, head_yaw: float) -> list[tuple[float, float, int]]:
    """COCO ``(x, y, v)`` per joint: 2 visible, 1 inside the frame but covered (by an occluder, another
    person, or the head when facing away), 0 outside the frame (then x = y = 0, as in COCO)."""
    h, w = labels.shape
    base = 1 + drawing.slot * LABELS_PER_PERSON
    out: list[tuple[float, float, int]] = []
    for j, (x, y) in enumerate(np.round(drawing.keypoints, 2)):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            out.append((0.0, 0.0, 0))
            continue
        owner = int(labels[int(round(y)), int(round(x))])
        visible = base <= owner < base + LABELS_PER_PERSON
        if facing < 0 and j in FACE_KEYPOINTS:
            visible = False
        if j in (3, 4) and abs(head_yaw) > 0.5:
            ear_side = facing if j == 3 else -facing            # image-x side of this ear
            visible = visible and ear_side * head_yaw > 0
        out.append((float(x), float(y), 2 if visible else 1))
    return out


def annotate_frame(scene: Scene, t: int, frame: RenderedFrame, states: list[np.ndarray],
                   rule: VisibilityRule = VisibilityRule()) -> list[FramePerson]:
    """Visible persons of rendered frame ``t`` in slot order. ``states[slot]`` holds that person's 10
    part states of this frame (BODY_PARTS order)."""
    if frame.labels is None:
        raise ValueError("annotate_frame needs a frame rendered with with_labels=True")
    labels = frame.labels
    people = []
    for drawing in frame.people:
        x0, y0, x1, y1 = drawing.window
        if x0 >= x1 or y0 >= y1:
            continue
        sub = labels[y0:y1, x0:x1]
        base = 1 + drawing.slot * LABELS_PER_PERSON
        mine = (sub >= base) & (sub < base + LABELS_PER_PERSON)
        area = int(mine.sum())
        if area < rule.min_person_pixels:
            continue
        parts = {}
        for local, name in enumerate(LOCAL_LABELS):
            if local == 0:
                continue
            mask = sub == base + local
            count = int(mask.sum())
            if count and count >= max(rule.min_part_pixels, rule.min_part_fraction * drawing.full_area[local]):
                parts[name] = PartAnnotation(_tight_box(mask, x0, y0), str(states[drawing.slot][local - 1]))
        person = scene.persons[drawing.slot]
        yaw = float(person.schedule.pose[t, PARAM_INDEX["head_yaw"]])
        kps = keypoint_visibility(drawing, labels, person.facing, yaw)
        people.append(FramePerson(drawing.slot, PersonAnnotation(_tight_box(mine, x0, y0), parts, kps), area))
    return people
