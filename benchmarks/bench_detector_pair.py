"""Benchmark: CPU forward time of two trained detectors on the same frames, interleaved in one process.

For a change that keeps the weights and alters the computation (the persons zoo entry's second stage:
C5 at stride 16 instead of 32), the figure to report is the ratio of the two, measured side by side:
``REFERENCE`` first, then ``CANDIDATE``, alternating, on a batch of random frames of the given size (the
model's own resize is a no-op at its recipe's size), 1 thread by default; median ms per frame.

    .venv/bin/python benchmarks/bench_detector_pair.py REFERENCE CANDIDATE [--size 240 320] [--batch 8]
        [--repeats 7] [--threads 1]

REFERENCE and CANDIDATE: a run dir, a checkpoint or a ``zoo:NAME``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from partparse.engine.trained_models import load_trained  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {}
    for role, spec in (("reference", args.reference), ("candidate", args.candidate)):
        models[role] = load_trained(spec)[0].eval()        # (a run dir, a checkpoint or zoo:NAME)
    frames = [torch.rand(3, *args.size, generator=torch.Generator().manual_seed(i)) for i in range(args.batch)]
    times: dict[str, list[float]] = {role: [] for role in models}
    with torch.no_grad():
        for model in models.values():
            model(frames)                                   # warm-up
        for _ in range(args.repeats):
            for role, model in models.items():
                t0 = time.perf_counter()
                model(frames)
                times[role].append((time.perf_counter() - t0) / args.batch * 1000)
    ms = {role: statistics.median(v) for role, v in times.items()}
    print(f"{args.size[0]}x{args.size[1]}, batch {args.batch}, {args.threads} thread(s), median of {args.repeats}:")
    for role, spec in (("reference", args.reference), ("candidate", args.candidate)):
        print(f"  {role:9s} {spec}: {ms[role]:.1f} ms per frame")
    print(f"  ratio candidate / reference: {ms['candidate'] / ms['reference']:.2f}")


if __name__ == "__main__":
    main()
