"""Where every file of a SynTPS dataset lives (the Kinetics-TPS layout, splits ``train`` and ``val``).

::

    DIR/{split}_videos/<class>/<video>.mp4
    DIR/{split}_annotations/<class>/<video>/<video>/img_%05d.json
    DIR/gt_{split}/gt_vid_result.json, gt_part_result.json
    DIR/keypoints_{split}.json
    DIR/list/body_part.txt, part_stat.txt, action.txt, video_{split}_flist.csv
    DIR/synth_config.json
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from partparse.io import InputError, atomic_write, read_json

SPLITS = ("train", "val")
FLIST_HEADER = ("label", "youtube_id", "time_start", "time_end", "split")


@dataclass(frozen=True)
class SynthLayout:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def video(self, split: str, action: str, video_id: str) -> Path:
        return self.root / f"{split}_videos" / action / f"{video_id}.mp4"

    def annotation_root(self, split: str) -> Path:
        return self.root / f"{split}_annotations"

    def annotation_dir(self, split: str, action: str, video_id: str) -> Path:
        return self.annotation_root(split) / action / video_id / video_id

    def gt_dir(self, split: str) -> Path:
        return self.root / f"gt_{split}"

    def keypoints(self, split: str) -> Path:
        return self.root / f"keypoints_{split}.json"

    @property
    def list_dir(self) -> Path:
        return self.root / "list"

    def flist(self, split: str) -> Path:
        return self.list_dir / f"video_{split}_flist.csv"

    @property
    def config(self) -> Path:
        return self.root / "synth_config.json"

    def written(self) -> list[Path]:
        """Every path :func:`~partparse.data.synthetic.generator.generate_dataset` writes (files and whole
        folders), relative to ``root``: what ``synth --force`` removes before writing a new dataset."""
        paths = [self.config, *(self.list_dir / n for n in ("body_part.txt", "part_stat.txt", "action.txt"))]
        for split in SPLITS:
            paths += [self.root / f"{split}_videos", self.annotation_root(split), self.gt_dir(split),
                      self.keypoints(split), self.flist(split)]
        return [p.relative_to(self.root) for p in paths]

    def find_video(self, video_id: str) -> tuple[str, str]:
        """``(split, action)`` of a video of this dataset; :class:`InputError` if it has none."""
        for split in SPLITS:
            vid_file = self.gt_dir(split) / "gt_vid_result.json"
            if vid_file.is_file():
                actions = read_json(vid_file)
                if video_id in actions:
                    return split, actions[video_id]
        raise InputError(f"{self.root}: no video {video_id!r} in gt_train/ or gt_val/")


def frame_image_name(video_id: str, frame_index: int) -> str:
    """File name of an extracted annotated frame: ``<video>_00001.jpg`` for frame 0."""
    return f"{video_id}_{frame_index + 1:05d}.jpg"


def split_video_id(video_id: str) -> tuple[str, int, int]:
    """``'abcdefghijk_000012_000022'`` -> ``('abcdefghijk', 12, 22)`` (Kinetics naming)."""
    head, start, end = video_id[:-14], video_id[-13:-7], video_id[-6:]
    return head, int(start), int(end)


def write_flist(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Kinetics-style split CSV: ``label,youtube_id,time_start,time_end,split`` for ``(id, action, split)`` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FLIST_HEADER)
    for video_id, action, split in rows:
        yt, start, end = split_video_id(video_id)
        writer.writerow((action, yt, start, end, split))
    atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def read_flist(path: Path) -> list[tuple[str, str]]:
    """``[(video_id, action), ...]`` of a split CSV written by :func:`write_flist`."""
    if not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    try:
        return [(f"{r['youtube_id']}_{int(r['time_start']):06d}_{int(r['time_end']):06d}", r["label"]) for r in rows]
    except (KeyError, ValueError) as err:
        raise InputError(f"{path}: not a split list with columns {','.join(FLIST_HEADER)}: {err}") from None


def write_name_list(path: Path, names) -> None:
    atomic_write(path, lambda fh: fh.write("".join(f"{n}\n" for n in names)))
