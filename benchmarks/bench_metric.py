"""Benchmark: the vectorised Kinetics-TPS evaluator against the loop-based reference (the test oracle).

Builds a ground truth at the scale of the Kinetics-TPS test set (932 videos, every 5th frame of ~10 s
clips, 1-4 persons with 10 parts) and a noisy submission (up to 10 persons a frame, 1-3 proposals a
part), both seeded, and writes them as the official four files (cached in --data-dir). Then, each in a
fresh process, times what a user runs: ``partparse evaluate`` (read JSON + score + part-state accuracy;
and with ``--grid``), and the reference on the same files (read JSON + score one threshold pair).
Prints both scores and the speed ratio.

    .venv/bin/python benchmarks/bench_metric.py [--videos 932] [--frames 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REFERENCE = """
import json, sys, time
sys.path.insert(0, {root!r})
from tests.oracle.tps_reference import reference_score
t0 = time.perf_counter()
d = [json.load(open(p)) for p in {files!r}]
t1 = time.perf_counter()
score = reference_score(*d)
print(json.dumps({{"score": score, "read": t1 - t0, "score_time": time.perf_counter() - t1}}))
"""


def make_data(folder: Path, videos: int, frames: int, seed: int) -> None:
    from tests.oracle.random_tps import noisy_submission, random_ground_truth

    from partparse.io import write_json

    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, videos, frames, max_humans=4)
    pv, pp = noisy_submission(rng, gv, gp, false_positives=4, max_proposals=3)
    write_json(folder / "gt" / "gt_vid_result.json", gv)
    write_json(folder / "gt" / "gt_part_result.json", gp)
    write_json(folder / "pred" / "pred_vid_result.json", pv)
    write_json(folder / "pred" / "pred_part_result.json", pp)
    n_props = sum(len(p["verb"]) for f in pp.values() for fr in f.values() for h in fr["humans"]
                  for p in h["parts"].values())
    stats = {"videos": videos, "frames": sum(len(f) for f in gp.values()),
             "gt_persons": sum(len(fr["humans"]) for f in gp.values() for fr in f.values()),
             "pred_persons": sum(len(fr["humans"]) for f in pp.values() for fr in f.values()),
             "proposals": n_props}
    (folder / "stats.json").write_text(json.dumps(stats))


def run(cmd: list[str]) -> tuple[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=932)
    ap.add_argument("--frames", type=int, default=60, help="annotated frames per video (every 5th of ~300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=None, help="where to cache the generated files")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()
    folder = args.data_dir or Path("/tmp") / f"partparse_bench_tps_{args.videos}x{args.frames}_s{args.seed}"
    if not (folder / "stats.json").exists():
        make_data(folder, args.videos, args.frames, args.seed)
    stats = json.loads((folder / "stats.json").read_text())
    size = (folder / "pred" / "pred_part_result.json").stat().st_size
    print(f"data: {stats['videos']} videos, {stats['frames']} frames, {stats['gt_persons']} GT persons, "
          f"{stats['pred_persons']} predicted persons, {stats['proposals']} part proposals; "
          f"pred_part_result.json {size / 1e6:.0f} MB")
    cli = [sys.executable, "-m", "partparse.cli", "evaluate", "--gt", str(folder / "gt"), "--pred", str(folder / "pred"),
           "--json"]
    python_start = run([sys.executable, "-c", "import partparse.cli"])[1]
    out, t_ours = run(cli)
    ours = json.loads(out)
    _, t_grid = run(cli + ["--grid"])
    print(f"ours:      score {ours['score']!r}: `partparse evaluate --json` {t_ours:.2f}s wall "
          f"(process start + imports {python_start:.2f}s), with --grid {t_grid:.2f}s")
    if args.skip_reference:
        return
    files = [str(folder / "gt" / "gt_vid_result.json"), str(folder / "gt" / "gt_part_result.json"),
             str(folder / "pred" / "pred_vid_result.json"), str(folder / "pred" / "pred_part_result.json")]
    out, t_ref = run([sys.executable, "-c", REFERENCE.format(root=str(ROOT), files=files)])
    ref = json.loads(out)
    print(f"reference: score {ref['score']!r}: {t_ref:.2f}s wall (json.load {ref['read']:.2f}s, "
          f"scoring {ref['score_time']:.2f}s)")
    print(f"equal: {ref['score'] == ours['score']}; speed-up {t_ref / t_ours:.1f}x for one threshold pair; the "
          f"official script scores 26 pairs (main + 5x5 grid): ~{26 * ref['score_time'] + ref['read']:.0f}s vs "
          f"{t_grid:.2f}s")


if __name__ == "__main__":
    main()
