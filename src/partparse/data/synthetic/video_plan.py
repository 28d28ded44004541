"""What the generator plans for a video and what rendering it gives back (read by the generator and by
the exporters of its annotations, e.g. :mod:`partparse.data.synthetic.keypoints_coco`)."""

from __future__ import annotations

from dataclasses import dataclass

from partparse.data.synthetic.annotate import FramePerson
from partparse.structures import VideoAnnotation


@dataclass(frozen=True)
class VideoPlan:
    index: int
    video_id: str
    action: str
    split: str


@dataclass
class VideoResult:
    plan: VideoPlan
    annotation: VideoAnnotation
    people: list[list[FramePerson]]           # per annotated frame, visible persons in slot order
