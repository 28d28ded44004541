"""Benchmark: CPU inference time and peak memory of the spatial models, against torchvision's ResNet-50.

YOLOF-R18/R50 per frame (the model's own resize disabled: the frame is fed at its size, so the
figure is backbone + encoder + head + decoding + NMS at that size) and top-down HRNet-W18/W32 per
batch of 256x192 crops (flip test on, as at inference, so two passes). Every row also times
``torchvision.models.resnet50`` on the same input tensor in the same process and prints the ratio.
Each row runs in a fresh process so that its peak resident memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_spatial.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402


def _row(spec: tuple, repeats: int, warmup: int, threads: int, queue) -> None:
    import torch
    from torchvision.models import resnet50

    from partparse.models.hrnet import hrnet_w18, hrnet_w32
    from partparse.models.yolof import yolof_r18, yolof_r50

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    kind, name, batch, (h, w) = spec
    if kind == "yolof":
        model = {"yolof_r18": yolof_r18, "yolof_r50": yolof_r50}[name](1, min_size=min(h, w), max_size=max(h, w))
        model.eval()
        model.config.score_thresh = 0.0  # untrained: keep candidates so decoding and NMS do real work
        frame = torch.rand(3, h, w)
        run = lambda: model([frame])  # noqa: E731
    else:
        model = {"hrnet_w18": hrnet_w18, "hrnet_w32": hrnet_w32}[name]().eval()
        crops = torch.rand(batch, 3, h, w)
        run = lambda: model(crops)  # noqa: E731
    reference = resnet50(weights=None).eval()
    ref_input = torch.rand(batch, 3, h, w)
    with torch.no_grad():
        t_model = median_time(run, repeats, warmup)
        t_ref = median_time(lambda: reference(ref_input), repeats, warmup)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = sum(p.numel() for p in model.parameters()) / 1e6
    queue.put((name, batch, h, w, params, t_model, t_ref, peak_mb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 timed runs after 1 warm-up (default 10 after 2)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    repeats, warmup = (3, 1) if args.quick else (10, 2)
    specs = [("yolof", "yolof_r18", 1, (240, 320)), ("yolof", "yolof_r18", 1, (480, 640)),
             ("yolof", "yolof_r50", 1, (240, 320)), ("yolof", "yolof_r50", 1, (480, 640)),
             ("hrnet", "hrnet_w18", 1, (256, 192)), ("hrnet", "hrnet_w18", 8, (256, 192)),
             ("hrnet", "hrnet_w32", 1, (256, 192)), ("hrnet", "hrnet_w32", 8, (256, 192))]
    print(f"CPU, {args.threads} threads, median of {repeats} runs; reference = torchvision resnet50 forward "
          f"on the same input size and batch, same process")
    print(f"{'model':<10} {'batch':>5} {'input HxW':>10} {'params':>8} {'model ms':>9} {'per item':>9} "
          f"{'resnet50 ms':>11} {'ratio':>6} {'peak RSS':>9}")
    ctx = mp.get_context("spawn")
    for spec in specs:
        queue = ctx.Queue()
        proc = ctx.Process(target=_row, args=(spec, repeats, warmup, args.threads, queue))
        proc.start()
        name, batch, h, w, params, t_model, t_ref, peak = queue.get()
        proc.join()
        print(f"{name:<10} {batch:>5} {f'{h}x{w}':>10} {params:>7.1f}M {t_model * 1e3:>9.1f} "
              f"{t_model * 1e3 / batch:>9.1f} {t_ref * 1e3:>11.1f} {t_model / t_ref:>6.2f} {peak:>7.0f}MB")


if __name__ == "__main__":
    main()
