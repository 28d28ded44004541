"""Contact sheet of a video's annotated frames with its ground truth drawn on top (PNG)."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

from partparse.data.synthetic.layout import SynthLayout
from partparse.data.synthetic.video_io import read_frames
from partparse.data.tps_format import load_ground_truth
from partparse.data.vocabulary import BODY_PARTS
from partparse.io import InputError, atomic_write

PART_COLOURS = {
    "head": (255, 255, 255), "hip": (255, 128, 0), "left_arm": (0, 200, 255), "right_arm": (0, 120, 255),
    "left_hand": (0, 255, 120), "right_hand": (120, 255, 0), "left_leg": (255, 0, 200),
    "right_leg": (200, 0, 255), "left_foot": (255, 80, 80), "right_foot": (255, 200, 80),
}
_SHORT = {p: "".join(w[0] for w in p.split("_")).upper() if "_" in p else p[:2].upper() for p in BODY_PARTS}


def resolve_preview_target(target: str | Path) -> tuple[Path, str]:
    """``DIR/VIDEO_ID`` or a video file inside a dataset (``DIR/{split}_videos/<class>/<id>.mp4``)
    -> ``(dataset root, video id)``."""
    target = Path(target)
    if target.suffix == ".mp4":
        if not target.is_file():
            raise InputError(f"{target}: video not found")
        if len(target.parents) < 3:
            raise InputError(f"{target}: not a video of a dataset (DIR/{{split}}_videos/<class>/<id>.mp4)")
        return target.parents[2], target.stem
    if not target.parent.is_dir():
        raise InputError(f"{target.parent}: dataset folder not found")
    return target.parent, target.name


def contact_sheet(root: str | Path, video_id: str, out_png: str | Path, columns: int = 4,
                  max_frames: int = 16) -> Path:
    """Draw up to ``max_frames`` annotated frames (decoded from the MP4) in a grid: person boxes in
    yellow, part boxes in per-part colours labelled ``PART:state``, the action and video id on top."""
    layout = SynthLayout(root)
    split, action = layout.find_video(video_id)
    video = load_ground_truth(layout.gt_dir(split))[video_id]
    frames = video.frames[:max_frames]
    if not frames:
        raise InputError(f"{layout.gt_dir(split)}: video {video_id} has no annotated frames")
    images = read_frames(layout.video(split, action, video_id), [f.index for f in frames])
    h, w = next(iter(images.values())).shape[:2]
    scale = max(1, math.ceil(320 / w))
    cols = min(columns, len(frames))
    rows = math.ceil(len(frames) / cols)
    header = 18
    sheet = Image.new("RGB", (cols * w * scale, rows * h * scale + header), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), f"{action}  |  {video_id}  |  {split}", fill=(255, 255, 255))
    for n, frame in enumerate(frames):
        tile = Image.fromarray(images[frame.index]).resize((w * scale, h * scale), Image.NEAREST)
        d = ImageDraw.Draw(tile)
        for person in frame.persons:
            d.rectangle([v * scale for v in person.box], outline=(255, 255, 0), width=2)
            for name, part in person.parts.items():
                box = [v * scale for v in part.box]
                d.rectangle(box, outline=PART_COLOURS.get(name, (255, 0, 0)))
                if part.state != "none":
                    d.text((box[0] + 1, box[1] + 1), f"{_SHORT.get(name, name)}:{part.state}",
                           fill=PART_COLOURS.get(name, (255, 0, 0)))
        d.text((3, h * scale - 12), frame.key, fill=(255, 255, 255))
        sheet.paste(tile, ((n % cols) * w * scale, (n // cols) * h * scale + header))
    out_png = Path(out_png)
    atomic_write(out_png, lambda fh: sheet.save(fh, format="PNG"), mode="wb")
    return out_png
