"""Benchmark: YOLO11n-pose (optional extra ``partparse[pretrained]``) per frame on a real video, CPU.

Decodes ``--frames`` frames of the video (every ``--stride``-th, decoding not timed), then for each
``--imgsz`` times :meth:`YoloPosePersons.detect` one frame at a time (persons + 17 keypoints; the frame
letterboxed to that longer side) and, as the reference in the same run, our random-init YOLOF-R18
(``yolof_r18(num_classes=1)``, person detection only) on the same frames resized to the same longer
side (score threshold 0 so that decoding and NMS do their full work). Prints the median ms per frame of
both, their ratio, and what YOLO found: persons per frame and mean keypoint score.

    .venv/bin/python benchmarks/bench_pretrained_persons.py VIDEO [--imgsz 640 1280] [--frames 20]
        [--stride 10] [--threads 2]

``vtest.avi`` (768x576 pedestrians) comes in the Debian package ``opencv-doc``
(``apt-get download opencv-doc && dpkg -x opencv-doc_*.deb DIR``, then ``DIR/usr/share/doc/opencv-doc/
examples/data/vtest.avi``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _median_per_frame(fn, frames, warmup: int = 2) -> tuple[float, list]:
    for frame in frames[:warmup]:
        fn(frame)
    times, outputs = [], []
    for frame in frames:
        t0 = time.perf_counter()
        outputs.append(fn(frame))
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--imgsz", type=int, nargs="+", default=[640, 1280])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--stride", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import torch

    from partparse.data.video_reader import VideoReader
    from partparse.models.yolof import yolof_r18
    from partparse.pipeline.pretrained_persons import YoloPoseConfig, YoloPosePersons

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with VideoReader(args.video) as reader:
        wanted = np.arange(args.frames) * args.stride
        wanted = wanted[wanted < reader.num_frames]
        frames = list(reader.read_frames(wanted))
        size = f"{reader.width}x{reader.height}"
    print(f"{args.video}: {len(frames)} frames of {size} (every {args.stride}th); CPU threads: {args.threads}; "
          f"median per frame, batch 1; reference = random-init YOLOF-R18 at the same longer side, same run")
    print(f"{'imgsz':>5} {'YOLO11n-pose ms':>15} {'YOLOF-R18 ms':>12} {'ratio':>6} {'persons/frame':>13} "
          f"{'mean kp score':>13}")
    tensors = [torch.from_numpy(f).permute(2, 0, 1).float().div(255) for f in frames]
    for imgsz in args.imgsz:
        yolo = YoloPosePersons(YoloPoseConfig(imgsz=imgsz, batch_size=1))
        t_yolo, found = _median_per_frame(lambda f, yolo=yolo: yolo.detect([f])[0], frames)
        # min_size = max_size = imgsz: the longer side becomes imgsz, as Ultralytics' letterbox does.
        reference = yolof_r18(num_classes=1, min_size=imgsz, max_size=imgsz).eval()
        reference.config.score_thresh = 0.0
        with torch.no_grad():
            t_ref, _ = _median_per_frame(lambda t, reference=reference: reference([t]), tensors)
        persons = np.mean([len(d) for d in found])
        scores = np.concatenate([d.keypoint_scores.ravel() for d in found])
        mean_score = f"{scores.mean():.3f}" if scores.size else "-"
        print(f"{imgsz:>5} {t_yolo * 1e3:>15.0f} {t_ref * 1e3:>12.0f} {t_yolo / t_ref:>6.2f} {persons:>13.2f} "
              f"{mean_score:>13}")


if __name__ == "__main__":
    main()
