"""Benchmark: the whole parse of videos with a parse recipe (default: the model zoo's ``syntps-zoo``) on
CPU, per stage, beside decoding the same videos (the floor of any parser), in the same run.

For each thread count (``--threads 1 2``: ``torch.set_num_threads``), every video is first decoded
(every frame to RGB with :class:`~partparse.data.video_reader.VideoReader` at the recipe's
``decode_max_side``: the floor), then parsed by :meth:`PartParser.parse` and written as
``partparse parse`` writes it (``videos/<id>.json``); floor and parse alternate video by video, so a
machine shared with other jobs slows both alike, and the ratio ``x floor`` (parse time over decode
time) is the figure to compare between runs. One video is parsed first as a warm-up (oneDNN primitives,
allocator growth), not counted. Stages are the parser's own timers (``decode`` there is the keyframes'
decoding); the video stage is split into ``video clips`` (decoding and cutting the CSNs' clips, shared
by CSNs that cut them alike) and ``video CSN`` (their forward passes); ``write`` is the per-video JSON.
Real time is the videos' own frame rate (SynTPS: 15 frames/s). Idle OpenMP threads sleep
(``OMP_WAIT_POLICY=PASSIVE``, as the ``partparse`` CLI sets it; set ``ACTIVE`` in the environment to
compare): spinning threads of busy processes fight for shared cores.

    PYTHONPATH=src python benchmarks/bench_parse.py [VIDEO_OR_DIR ...] [--recipe syntps-zoo] [--every 20]
        [--threads 1 2] [--json OUT.json]

Without videos it parses 4 SynTPS videos generated into a temporary folder (320x240, 64 frames at
15 fps). The load average (``os.getloadavg``) before and after is printed: on 2 cores shared with
other jobs, absolute seconds vary by 2x or more between runs; the ratios much less.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the partparse CLI; before torch loads OpenMP

import torch
from rich.console import Console
from rich.table import Table

from partparse.cli.parse import collect_videos
from partparse.data.video_reader import VideoReader
from partparse.pipeline import parse_recipe as pr
from partparse.pipeline.parse_output import write_parse_result


def decode_seconds(video: Path, max_side: int | None) -> tuple[float, int, float]:
    """``(seconds, frames, fps)`` of decoding every frame of ``video`` to RGB."""
    t0 = time.perf_counter()
    with VideoReader(video, max_side=max_side) as reader:
        frames = len(reader.read_all())
        fps = reader.info.fps
    return time.perf_counter() - t0, frames, fps


class VideoStageClock:
    """Splits the parser's ``video`` stage: clip making (decode + crop) vs CSN forward passes, by
    wrapping the CSN scorers' ``clips`` and ``score_views`` (benchmark instrumentation only)."""

    def __init__(self, parser) -> None:
        self.seconds = {"video clips": 0.0, "video CSN": 0.0}
        scorer = parser.video_scorer
        for s in getattr(scorer, "scorers", [scorer] if scorer is not None else []):
            for method, key in (("clips", "video clips"), ("score_views", "video CSN")):
                if hasattr(s, method):
                    setattr(s, method, self._timed(getattr(s, method), key))

    def _timed(self, fn, key):
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - t0
        return wrapped

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {k: 0.0 for k in self.seconds}
        return out


@contextmanager
def _clock(store: dict, key: str):
    t0 = time.perf_counter()
    yield
    store[key] = store.get(key, 0.0) + time.perf_counter() - t0


def run(videos: list[Path], recipe: str, overrides: list[str], threads: int, out: Path) -> dict:
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    cfg = pr.load_parse_recipe(recipe, ["parser.device=cpu", *overrides])
    parser = pr.build_parser(cfg)
    load = time.perf_counter() - t0
    clock = VideoStageClock(parser)
    parser.parse(videos[0])          # warm-up
    clock.take()
    stages: dict[str, float] = {}
    floor = frames = duration = 0.0
    load_before = os.getloadavg()[0]
    for video in videos:
        seconds, n, fps = decode_seconds(video, cfg.parser.decode_max_side)
        floor, frames, duration = floor + seconds, frames + n, duration + n / fps
        with _clock(stages, "whole"):
            result = parser.parse(video)
            with _clock(stages, "write"):
                write_parse_result(result, video, out / f"t{threads}")
        for k, s in result.timings.items():
            if k != "total":
                stages[k] = stages.get(k, 0.0) + s
        for k, s in clock.take().items():
            stages[k] = stages.get(k, 0.0) + s
    whole = stages.pop("whole")
    video_split = {k: stages.pop(k) for k in ("video clips", "video CSN")}
    return {"threads": threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "videos": len(videos),
            "frames": int(frames), "video_seconds": duration,
            "model_load_s": load, "floor_s": floor, "parse_s": whole, "stages_s": stages, "video_split_s": video_split,
            "parse_fps": frames / whole, "floor_fps": frames / floor, "x_floor": whole / floor,
            "x_real_time": duration / whole, "load_avg": [load_before, os.getloadavg()[0]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path, help="video files or folders (default: 4 generated SynTPS videos)")
    ap.add_argument("--recipe", default="syntps-zoo")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override, as partparse parse")
    ap.add_argument("--every", type=int, default=1, help="take every N-th video of the inputs")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.videos:
            videos = collect_videos(args.videos)[::args.every]
        else:
            from partparse.data.synthetic.generator import SynthConfig, generate_dataset

            generate_dataset(SynthConfig(videos=4, seed=0, val_fraction=0.0), Path(tmp) / "syn")
            videos = sorted((Path(tmp) / "syn").rglob("*.mp4"))
        rows = [run(videos, args.recipe, args.overrides, t, Path(tmp) / "out") for t in args.threads]
    stage_names = list(dict.fromkeys(k for r in rows for k in r["stages_s"]))
    table = Table(title=f"{args.recipe}: {rows[0]['videos']} videos, {rows[0]['frames']} frames "
                        f"({rows[0]['video_seconds']:.1f} s of video); parse beside decoding the same videos")
    for col in ("threads", "load avg", "floor s", "floor fps", "parse s", "parse fps", "x floor", "x real time",
                *stage_names, "(video clips)", "(video CSN)", "models load s"):
        table.add_column(col, justify="right")
    for r in rows:
        cells = [f"{r['stages_s'][k]:.2f} ({100 * r['stages_s'][k] / r['parse_s']:.0f}%)" for k in stage_names]
        split = [f"{r['video_split_s'][k]:.2f}" for k in ("video clips", "video CSN")]
        table.add_row(str(r["threads"]), "{:.1f}-{:.1f}".format(*r["load_avg"]), f"{r['floor_s']:.2f}",
                      f"{r['floor_fps']:.0f}", f"{r['parse_s']:.2f}", f"{r['parse_fps']:.1f}", f"{r['x_floor']:.1f}",
                      f"{r['x_real_time']:.1f}", *cells, *split, f"{r['model_load_s']:.2f}")
    Console(width=250).print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
