"""SynTPS: generate a synthetic dataset in the exact Kinetics-TPS layout.

Every video is a pure function of ``(config, video index)``: its random numbers come from
``numpy.random.default_rng(SeedSequence([seed, index]))``, so videos can be generated in any order or
in parallel and the same seed gives byte-identical annotation files.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from partparse.data.synthetic.actions import ACTIONS, all_states
from partparse.data.synthetic.annotate import VisibilityRule, annotate_frame
from partparse.data.synthetic.keypoints_coco import keypoints_coco
from partparse.data.synthetic.layout import SPLITS, SynthLayout, write_flist, write_name_list
from partparse.data.synthetic.render import render_video
from partparse.data.synthetic.scene import sample_scene
from partparse.data.synthetic.video_io import H264Writer
from partparse.data.synthetic.video_plan import VideoPlan, VideoResult
from partparse.data.tps_format import ground_truth_to_json, write_ground_truth
from partparse.data.vocabulary import BODY_PARTS
from partparse.io import write_json
from partparse.structures import FrameAnnotation, VideoAnnotation, frame_key

#: Bumped whenever the same config would produce different data.
GENERATOR_VERSION = 2
SYNTH_ACTIONS: tuple[str, ...] = tuple(ACTIONS)
_ID_CHARS = string.ascii_letters + string.digits + "-_"


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the content of a SynTPS dataset (written to ``synth_config.json``).

    ``actions`` takes the first K of :data:`SYNTH_ACTIONS`; ``annotate_every`` = 5 annotates frames
    0, 5, 10, ... (``img_00001.json``, ``img_00006.json``, ...) as Kinetics-TPS does; ``crf``/``preset``
    are the x264 settings.
    """

    videos: int = 40
    seed: int = 0
    actions: int = len(SYNTH_ACTIONS)
    fps: int = 15
    width: int = 320
    height: int = 240
    frames: int = 64
    val_fraction: float = 0.2
    annotate_every: int = 5
    max_people: int = 3
    crf: int = 23
    preset: str = "ultrafast"
    visibility: VisibilityRule = field(default_factory=VisibilityRule)

    def __post_init__(self):
        checks = [
            (self.videos >= 1, f"videos must be >= 1, got {self.videos}"),
            (1 <= self.actions <= len(SYNTH_ACTIONS), f"actions must be 1..{len(SYNTH_ACTIONS)}, got {self.actions}"),
            (self.fps >= 1, f"fps must be >= 1, got {self.fps}"),
            (self.width >= 32 and self.height >= 32, f"size must be at least 32x32, got {self.width}x{self.height}"),
            (self.width % 2 == 0 and self.height % 2 == 0,
             f"size must be even in both dimensions (H.264 yuv420p), got {self.width}x{self.height}"),
            (self.frames >= 1, f"frames must be >= 1, got {self.frames}"),
            (0.0 <= self.val_fraction < 1.0, f"val_fraction must be in [0, 1), got {self.val_fraction}"),
            (self.annotate_every >= 1, f"annotate_every must be >= 1, got {self.annotate_every}"),
            (1 <= self.max_people <= 10, f"max_people must be 1..10, got {self.max_people}"),
            (0 <= self.crf <= 51, f"crf must be 0..51, got {self.crf}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def action_names(self) -> tuple[str, ...]:
        return SYNTH_ACTIONS[: self.actions]

    def to_dict(self) -> dict:
        return {"generator_version": GENERATOR_VERSION, **asdict(self)}


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(keys)))


def make_video_id(seed: int, index: int) -> str:
    """A Kinetics-like id ``<11 chars>_<start>_<end>`` drawn from ``(seed, index)`` alone."""
    rng = _rng(seed, index, 1)
    head = "".join(_ID_CHARS[i] for i in rng.integers(len(_ID_CHARS), size=11))
    start = int(rng.integers(0, 300))
    return f"{head}_{start:06d}_{start + 10:06d}"


def plan_videos(cfg: SynthConfig) -> list[VideoPlan]:
    """Ids, balanced classes and a class-stratified train/val split of all videos."""
    actions = cfg.action_names
    perm = _rng(cfg.seed, 2**32 - 1, 2).permutation(cfg.videos)
    labels = [actions[int(perm[i]) % len(actions)] for i in range(cfg.videos)]
    n_val = int(round(cfg.videos * cfg.val_fraction))
    if cfg.val_fraction > 0 and cfg.videos >= 2:
        n_val = min(max(n_val, 1), cfg.videos - 1)
    split_rng = _rng(cfg.seed, 2**32 - 1, 3)
    by_class = {a: [i for i in range(cfg.videos) if labels[i] == a] for a in actions}
    ranked: list[tuple[int, float, int]] = []          # (rank in class, random tie break, index)
    for a in actions:
        members = [by_class[a][j] for j in split_rng.permutation(len(by_class[a]))]
        ranked += [(r, float(split_rng.random()), i) for r, i in enumerate(members)]
    val = {i for _, _, i in sorted(ranked)[:n_val]}
    plans = [VideoPlan(i, make_video_id(cfg.seed, i), labels[i], "val" if i in val else "train")
             for i in range(cfg.videos)]
    if len({p.video_id for p in plans}) != len(plans):
        raise RuntimeError(f"video id collision for seed {cfg.seed}; use another seed")
    return plans


def generate_video(cfg: SynthConfig, plan: VideoPlan, root: str | Path) -> VideoResult:
    """Render, encode and annotate one video; writes its MP4 and per-frame JSON files under ``root``."""
    layout = SynthLayout(root)
    scene = sample_scene(_rng(cfg.seed, plan.index), plan.action, cfg.width, cfg.height, cfg.frames, cfg.fps,
                         cfg.max_people)
    frames, people = [], []
    with H264Writer(layout.video(plan.split, plan.action, plan.video_id), cfg.width, cfg.height, cfg.fps,
                    cfg.crf, cfg.preset) as writer:
        for frame in render_video(scene):
            writer.write(frame.pixels)
            if frame.index % cfg.annotate_every == 0:
                states = [p.schedule.states[frame.index] for p in scene.persons]
                visible = annotate_frame(scene, frame.index, frame, states, cfg.visibility)
                frames.append(FrameAnnotation(frame_key(frame.index), [p.annotation for p in visible]))
                people.append(visible)
    video = VideoAnnotation(plan.video_id, plan.action, frames)
    _, part_result = ground_truth_to_json([video])
    _write_frame_files(layout.annotation_dir(plan.split, plan.action, plan.video_id), part_result[plan.video_id])
    return VideoResult(plan, video, people)


def _write_frame_files(frame_dir: Path, frames: dict) -> None:
    """Write a video's per-frame JSON files into a hidden sibling folder, then rename it into place:
    the files appear together (atomically) without an fsync per small file."""
    frame_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{frame_dir.name}.", dir=frame_dir.parent))
    try:
        for key, content in frames.items():
            (tmp / key).write_text(json.dumps(content), encoding="utf-8")
        if frame_dir.exists():
            shutil.rmtree(frame_dir)
        os.replace(tmp, frame_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _generate_one(args: tuple[SynthConfig, VideoPlan, str]) -> VideoResult:
    return generate_video(*args)


@dataclass
class DatasetSummary:
    root: Path
    videos: dict[str, int]                    # per split
    annotated_frames: int
    persons: int
    parts: int


def generate_dataset(cfg: SynthConfig, out_dir: str | Path, workers: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> DatasetSummary:
    """Generate the whole dataset into ``out_dir``; ``progress(done, total)`` is called per video.

    ``workers > 1`` renders videos in that many processes; the output does not depend on it.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    layout = SynthLayout(out_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    plans = plan_videos(cfg)
    results: dict[int, VideoResult] = {}
    jobs = [(cfg, p, str(layout.root)) for p in plans]
    if workers == 1:
        for done, job in enumerate(jobs, 1):
            results[job[1].index] = _generate_one(job)
            if progress:
                progress(done, len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            for done, result in enumerate(pool.map(_generate_one, jobs, chunksize=1), 1):
                results[result.plan.index] = result
                if progress:
                    progress(done, len(jobs))
    ordered = [results[p.index] for p in plans]
    _write_split_files(cfg, layout, ordered)
    return DatasetSummary(
        layout.root, {s: sum(r.plan.split == s for r in ordered) for s in SPLITS},
        sum(len(r.annotation.frames) for r in ordered),
        sum(len(f.persons) for r in ordered for f in r.annotation.frames),
        sum(len(p.parts) for r in ordered for f in r.annotation.frames for p in f.persons))


def _write_split_files(cfg: SynthConfig, layout: SynthLayout, results: list[VideoResult]) -> None:
    for split in SPLITS:
        mine = [r for r in results if r.plan.split == split]
        write_ground_truth([r.annotation for r in mine], layout.gt_dir(split))
        write_json(layout.keypoints(split), keypoints_coco(mine, cfg.width, cfg.height, split))
        write_flist(layout.flist(split), [(r.plan.video_id, r.plan.action, split) for r in mine])
    write_name_list(layout.list_dir / "body_part.txt", BODY_PARTS)
    write_name_list(layout.list_dir / "part_stat.txt", all_states())
    write_name_list(layout.list_dir / "action.txt", cfg.action_names)
    write_json(layout.config, cfg.to_dict(), indent=2)
