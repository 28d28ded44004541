"""Benchmark: CSN forward time, peak memory, parameters and GFLOPs on CPU, against torchvision's R(2+1)D-18.

For ir-/ip-CSN-26, -50 and -152 (400-class head, eval mode, ``torch.inference_mode``) at the small CPU
recipe clip 8x112x112, batch 1 and 8, and (without ``--quick``) ir-/ip-CSN-152 at 32x224x224, batch 1.
The reference, measured in the same run at the same input, is ``torchvision.models.video.r2plus1d_18``
(random weights); ``vs R(2+1)D-18`` is our time per clip divided by its time per clip.

Time: median of ``--repeats`` timed forwards after one warm-up. Peak memory: the growth of the process's
peak resident set (Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` after ``malloc_trim``) over
one forward, i.e. activations and workspace, weights excluded. GFLOPs: 10^9 multiply-adds per clip
(:mod:`partparse.models.complexity`).

    .venv/bin/python benchmarks/bench_csn.py [--quick] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torchvision.models.video import r2plus1d_18

from partparse.models.complexity import measure_complexity
from partparse.models.csn import build_csn


@dataclass
class Row:
    name: str
    clip: tuple[int, int, int]
    batch: int
    mparams: float
    gflops: float
    ms_per_clip: float
    peak_mb: float | None


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_forward_mb(model: nn.Module, x: torch.Tensor) -> float | None:
    """Growth of the peak RSS during one forward (MB), or None where Linux /proc is not available."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed arenas back, so reuse does not hide growth
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        return None
    base = _status_kb("VmRSS")
    with torch.inference_mode():
        model(x)
    peak = _status_kb("VmHWM")
    return None if base is None or peak is None else (peak - base) / 1024


def time_per_clip_ms(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        model(x)  # warm-up: oneDNN primitive creation, allocator growth
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) / x.shape[0] * 1e3


def measure(name: str, make: Callable[[], nn.Module], clip: tuple[int, int, int], batch: int, repeats: int) -> Row:
    torch.manual_seed(0)
    model = make().eval()
    size = measure_complexity(model, (1, 3, *clip))
    x = torch.randn(batch, 3, *clip)
    peak = peak_forward_mb(model, x)
    ms = time_per_clip_ms(model, x, repeats)
    return Row(name, clip, batch, size.mparams, size.gflops, ms, peak)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8x112x112 only (skip CSN-152 at 32x224x224)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    small = (8, 112, 112)
    configs: list[tuple[str, Callable[[], nn.Module], tuple[int, int, int], int]] = []
    for batch in (1, 8):
        configs.append(("R(2+1)D-18 (tv)", lambda: r2plus1d_18(weights=None), small, batch))
        for depth in (26, 50, 152):
            for variant in ("ir", "ip"):
                configs.append((f"{variant}-CSN-{depth}", partial(build_csn, variant, depth, 400), small, batch))
    if not args.quick:
        big = (32, 224, 224)
        configs.append(("R(2+1)D-18 (tv)", lambda: r2plus1d_18(weights=None), big, 1))
        for variant in ("ir", "ip"):
            configs.append((f"{variant}-CSN-152", partial(build_csn, variant, 152, 400), big, 1))

    console = Console(width=None if sys.stdout.isatty() else 150)  # rich assumes 80 columns when piped
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
                  f"median of {args.repeats} forwards; mode: {'quick' if args.quick else 'full'}")
    rows = []
    for name, make, clip, batch in configs:
        rows.append(measure(name, make, clip, batch, args.repeats))
        console.print(f"  measured {name} {'x'.join(map(str, clip))} batch {batch}", style="dim")

    reference = {(r.clip, r.batch): r.ms_per_clip for r in rows if r.name.startswith("R(2+1)D")}
    table = Table(title="CSN on CPU: forward per clip (eval, inference_mode)")
    for col in ("model", "clip TxHxW", "batch", "params (M)", "GFLOPs/clip", "ms/clip", "clips/s",
                "vs R(2+1)D-18", "peak fwd MB"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        ratio = r.ms_per_clip / reference[r.clip, r.batch]
        table.add_row(r.name, "x".join(map(str, r.clip)), str(r.batch), f"{r.mparams:.2f}", f"{r.gflops:.2f}",
                      f"{r.ms_per_clip:.1f}", f"{1e3 / r.ms_per_clip:.1f}", f"{ratio:.2f}x",
                      "n/a" if r.peak_mb is None else f"{r.peak_mb:.0f}")
    console.print(table)
    console.print("GFLOPs = 10^9 multiply-adds per clip (convs and linear layers). Published Kinetics-400 "
                  "figures, 32x256x256 clip: ir-CSN-152 29.70 M params / 96.7 GFLOPs, ip-CSN-152 33.02 M / 108.8.")


if __name__ == "__main__":
    main()
