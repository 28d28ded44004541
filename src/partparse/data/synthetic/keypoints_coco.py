"""The ``keypoints_{split}.json`` file: COCO person-keypoints JSON of the annotated frames.

``images`` are annotated frames (``video_id``, 0-based ``frame_index``, ``frame_key``; ``file_name`` is
the name the COCO exporters give the extracted frame); ``annotations`` are the visible persons, in the
order of the frame's ``humans``, with 17 ``(x, y, v)`` keypoints (v = 2 visible, 1 covered, 0 outside
the frame with x = y = 0), ``bbox`` ``[x, y, w, h]`` from the inclusive person box, ``area`` = visible
pixels, ``track_id`` (unique per person over the dataset) and ``person_index`` (within the video).
"""

from __future__ import annotations

from partparse.data.synthetic.layout import frame_image_name
from partparse.data.synthetic.skeleton import COCO_SKELETON
from partparse.data.synthetic.video_plan import VideoResult
from partparse.structures import COCO_KEYPOINTS, frame_index

#: Persons per video are numbered below this in ``track_id = video_index * TRACKS_PER_VIDEO + slot``.
TRACKS_PER_VIDEO = 100

PERSON_CATEGORY = {"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_KEYPOINTS),
                   "skeleton": [list(p) for p in COCO_SKELETON]}


def xywh(box) -> list[int]:
    """Inclusive ``(x1, y1, x2, y2)`` -> COCO ``[x, y, w, h]`` (``w = x2 - x1 + 1``)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return [x1, y1, x2 - x1 + 1, y2 - y1 + 1]


def keypoints_coco(results: list[VideoResult], width: int, height: int, split: str) -> dict:
    images, annotations = [], []
    for result in results:
        vid = result.plan.video_id
        for frame, people in zip(result.annotation.frames, result.people, strict=True):
            image_id = len(images) + 1
            k = frame_index(frame.key)
            images.append({"id": image_id, "file_name": frame_image_name(vid, k), "width": width, "height": height,
                           "video_id": vid, "frame_index": k, "frame_key": frame.key})
            for person in people:
                kps = person.annotation.keypoints or []
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                    "bbox": xywh(person.annotation.box), "area": person.area, "iscrowd": 0,
                    "keypoints": [v for kp in kps for v in (kp[0], kp[1], int(kp[2]))],
                    "num_keypoints": sum(1 for kp in kps if kp[2] > 0),
                    "track_id": result.plan.index * TRACKS_PER_VIDEO + person.slot, "person_index": person.slot})
    return {"info": {"description": f"SynTPS synthetic person keypoints ({split})"},
            "images": images, "annotations": annotations, "categories": [PERSON_CATEGORY]}
