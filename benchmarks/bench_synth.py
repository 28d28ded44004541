"""SynTPS generation speed: videos per second for 64-frame 320x240 videos.

Reference measured in the same run: encoding the same number of blank 320x240 frames with PyAV (same
x264 settings, one video per generated video). The ratio says how far generation is from the cost of
writing the videos alone. CPU time (this process and its worker processes) is printed next to the wall
rate: on a shared machine it is the steadier figure.

    python benchmarks/bench_synth.py [--videos 16] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from partparse.data.synthetic.generator import SynthConfig, _rng, generate_dataset, plan_videos
from partparse.data.synthetic.render import render_video
from partparse.data.synthetic.scene import sample_scene
from partparse.data.synthetic.video_io import H264Writer


def encode_blank(cfg: SynthConfig, n_videos: int, folder: Path) -> float:
    blank = np.zeros((cfg.height, cfg.width, 3), np.uint8)
    start = time.perf_counter()
    for i in range(n_videos):
        with H264Writer(folder / f"blank_{i}.mp4", cfg.width, cfg.height, cfg.fps, cfg.crf, cfg.preset) as w:
            for _ in range(cfg.frames):
                w.write(blank)
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished (joined) child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    cfg = SynthConfig(videos=args.videos, seed=0, width=320, height=240, frames=64)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref = encode_blank(cfg, args.videos, tmp)
        print(f"reference: encode {args.videos} x {cfg.frames} blank frames: {args.videos / ref:.2f} videos/s")
        for workers in args.workers:
            start, cpu = time.perf_counter(), cpu_seconds()
            generate_dataset(cfg, tmp / f"w{workers}", workers=workers)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            print(f"synth, {workers} worker(s): {args.videos / wall:.2f} videos/s (ratio to blank encode "
                  f"{ref / wall:.3f}); CPU {1000 * cpu / args.videos:.0f} ms/video = "
                  f"{args.videos / cpu:.2f} videos/s per core")
        start = time.process_time()
        for plan in plan_videos(cfg):
            scene = sample_scene(_rng(cfg.seed, plan.index), plan.action, cfg.width, cfg.height, cfg.frames, cfg.fps)
            for _ in render_video(scene):
                pass
        render = time.process_time() - start
        print(f"render only (scene sampling + drawing): CPU {1000 * render / args.videos:.0f} ms/video")


if __name__ == "__main__":
    main()
