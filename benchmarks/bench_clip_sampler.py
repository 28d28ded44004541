"""Benchmark: reading CSN clips with VideoReader + ClipSampler against a full decode of the same file.

For each video (generated H.264 640x360, 300 frames, GOP 30 and GOP 250; and OpenCV's ``vtest.avi``,
768x576 MS-MPEG-4, 795 frames, if found), times in the same run:

- the reference: decode every frame (``read_all``), frames delivered per second;
- one 32x2 training clip (random offset), 7 test clips of 32x2 (one video's test input), an 8x4 clip;
  each opening a fresh reader (as a dataset item does: the demux-only frame table is included);
- each of those once at full size and once scaled to short side 256: while decoding (swscale) and
  after decoding (torchvision, antialiased bilinear, what ShortSideResize does otherwise);
- a plain PyAV loop converting every frame to RGB and keeping none (decoder throughput without the
  memory of ``read_all``, which holds every frame: 1 GB for vtest.avi at full size).

"ms/clip" is the median wall time for one clip (for all 7 test clips of a video together), "cpu ms"
the CPU time (all threads), "fps" frames delivered per second, "fps / full" that rate over the full
decode's, and "full / clip" how many times faster one clip arrives than a full decode of the file.

    .venv/bin/python benchmarks/bench_clip_sampler.py [--repeats 5] [--video PATH ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from partparse.data.clip_sampling import ClipSampler
from partparse.data.video_reader import VideoReader
from partparse.data.video_transforms import ClipToTensor, ShortSideResize

#: Where Debian's opencv-doc installs it (`apt-get download opencv-doc && dpkg -x` elsewhere: pass --video).
VTEST_PATH = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def write_scene(path: Path, num_frames: int = 300, gop: int = 30, size: tuple[int, int] = (640, 360)) -> Path:
    """A textured scene with moving objects (compresses like footage, unlike flat test patterns)."""
    w, h = size
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    yy, xx = np.mgrid[0:h, 0:w]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.options = {"x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0", "crf": "23"}
        for k in range(num_frames):
            img = np.roll(texture, 2 * k, axis=1).astype(np.int16)
            for j in range(4):  # four discs on circular paths
                cx = w / 2 + (w / 3) * np.cos(0.05 * k + j * 1.6)
                cy = h / 2 + (h / 3) * np.sin(0.07 * k + j * 1.6)
                img[(xx - cx) ** 2 + (yy - cy) ** 2 < 900] = (60 * j, 255 - 60 * j, 128)
            frame = av.VideoFrame.from_ndarray(img.clip(0, 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 30)
            c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


def time_read(path: Path, indices: list[np.ndarray], short_side: int | None, resize_after: int | None,
              ) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds per entry of ``indices`` (fresh reader each, as a dataset item
    does), mean frames decoded and seeks."""
    wall, cpu, decoded, seeks = [], [], 0, 0
    for idx in indices:
        t0, c0 = time.perf_counter(), time.process_time()
        with VideoReader(path, short_side=short_side) as r:
            frames = r.read_frames(idx)
            decoded, seeks = decoded + r.frames_decoded, seeks + r.seeks
        if resize_after is not None:
            ShortSideResize(resize_after)(ClipToTensor()(frames))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu)), decoded / len(indices), seeks / len(indices)


def bench_video(console: Console, path: Path, label: str, repeats: int) -> None:
    with VideoReader(path) as r:
        n, info = r.num_frames, r.info
        r.read_frames(np.arange(min(n, 60)))  # warm up: file cache, decoder libraries
    t0 = time.perf_counter()
    for _ in range(5):
        VideoReader(path).close()
    t_open = (time.perf_counter() - t0) / 5
    table = Table(title=f"{label}: {info.width}x{info.height}, {n} frames, {info.codec}; "
                        f"open + frame table {1e3 * t_open:.1f} ms", title_justify="left")
    for col in ("read", "resize to 256", "frames", "decoded", "seeks", "ms/clip", "cpu ms", "fps",
                "fps / full", "full / clip"):
        table.add_column(col, justify="left" if col in ("read", "resize to 256") else "right")
    rng = np.random.default_rng(0)
    cases = {
        "full decode (reference)": [np.arange(n)],
        "1 train clip 32x2": [ClipSampler(32, 2)(n, rng).ravel() for _ in range(repeats)],
        "7 test clips 32x2": [ClipSampler(32, 2, num_clips=7, test_mode=True)(n).ravel()] * max(1, repeats // 2),
        "1 train clip 8x4": [ClipSampler(8, 4)(n, rng).ravel() for _ in range(repeats)],
    }
    resizes = {"no": (None, None), "in decode": (256, None), "after (torch)": (None, 256)}
    reference: dict[str, float] = {}
    for name, indices in cases.items():
        for rname, (short_side, after) in resizes.items():
            wall, cpu, decoded, seeks = time_read(path, indices, short_side, after)
            reference.setdefault(rname, wall)  # the first case is the full decode
            fps, full_fps = indices[0].size / wall, n / reference[rname]
            table.add_row(name, rname, str(indices[0].size), f"{decoded:.0f}", f"{seeks:.0f}",
                          f"{1e3 * wall:.0f}", f"{1e3 * cpu:.0f}", f"{fps:.0f}", f"{fps / full_fps:.2f}",
                          f"{reference[rname] / wall:.1f}")
        table.add_section()
    t0, c0 = time.perf_counter(), time.process_time()
    with av.open(str(path)) as c:  # what a naive loader does: every frame to RGB, nothing kept
        c.streams.video[0].thread_type = "AUTO"
        count = sum(1 for f in c.decode(video=0) if f.to_ndarray(format="rgb24") is not None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    table.add_row("plain PyAV loop, all frames", "no", str(count), str(count), "0", f"{1e3 * wall:.0f}",
                  f"{1e3 * cpu:.0f}", f"{count / wall:.0f}", f"{count / wall / (n / reference['no']):.2f}",
                  f"{reference['no'] / wall:.1f}")
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="random training clips per case")
    ap.add_argument("--video", type=Path, action="append", default=[], help="extra video files")
    args = ap.parse_args()
    torch.set_num_threads(2)
    console = Console(width=120)
    console.print(f"PyAV {av.__version__}, FFmpeg libavcodec {av.library_versions['libavcodec']}, "
                  f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory() as tmp:
        videos = [(write_scene(Path(tmp) / "gop30.mp4", gop=30), "generated H.264 GOP 30"),
                  (write_scene(Path(tmp) / "gop250.mp4", gop=250), "generated H.264 GOP 250")]
        videos += [(VTEST_PATH, str(VTEST_PATH))] if VTEST_PATH.is_file() else []
        videos += [(p, str(p)) for p in args.video]
        if len(videos) == 2:
            console.print(f"{VTEST_PATH} not found (Debian package opencv-doc) and no --video: generated videos only")
        for path, label in videos:
            bench_video(console, path, label, args.repeats)


if __name__ == "__main__":
    main()
