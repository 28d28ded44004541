"""Benchmark: the vectorised Kinetics-TPS evaluator against the loop-based reference (the test oracle).

Builds a ground truth at the scale of the Kinetics-TPS test set (932 videos, every 5th frame of ~10 s
clips, 1-4 persons with 10 parts) and a noisy submission (up to 10 persons a frame, 1-3 proposals a
part), both seeded, then times: JSON parsing, our evaluator (one threshold pair, and the official 5x5
grid) and the reference on the same dicts. Prints both scores and the speed ratio.

    .venv/bin/python benchmarks/bench_metric.py [--videos 932] [--frames 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.oracle.random_tps import noisy_submission, random_ground_truth  # noqa: E402
from tests.oracle.tps_reference import reference_score  # noqa: E402

from partparse.evaluation.part_state_accuracy import part_state_accuracy  # noqa: E402
from partparse.evaluation.tps_metric import TPSEvaluator  # noqa: E402
from partparse.evaluation.tps_shards import default_workers  # noqa: E402
from partparse.io import read_json, write_json  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=932)
    ap.add_argument("--frames", type=int, default=60, help="annotated frames per video (every 5th of ~300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    (gv, gp), t_gen = timed(lambda: random_ground_truth(rng, args.videos, args.frames, max_humans=4))
    (pv, pp), _ = timed(lambda: noisy_submission(rng, gv, gp, false_positives=4, max_proposals=3))
    n_frames = sum(len(f) for f in gp.values())
    n_gt = sum(len(fr["humans"]) for f in gp.values() for fr in f.values())
    n_pred = sum(len(fr["humans"]) for f in pp.values() for fr in f.values())
    n_props = sum(len(p["verb"]) for f in pp.values() for fr in f.values() for h in fr["humans"]
                  for p in h["parts"].values())
    with tempfile.TemporaryDirectory() as tmp:
        write_json(Path(tmp) / "gt_part_result.json", gp)
        write_json(Path(tmp) / "pred_part_result.json", pp)
        size = (Path(tmp) / "pred_part_result.json").stat().st_size
        print(f"data: {args.videos} videos, {n_frames} frames, {n_gt} GT persons, {n_pred} predicted persons, "
              f"{n_props} part proposals; pred_part_result.json {size / 1e6:.0f} MB")
        (gp, pp), t_load = timed(lambda: (read_json(Path(tmp) / "gt_part_result.json"),
                                          read_json(Path(tmp) / "pred_part_result.json")))
    ev1, t_flat1 = timed(lambda: TPSEvaluator(gv, gp, pv, pp, workers=1))
    ev, t_flat = timed(lambda: TPSEvaluator(gv, gp, pv, pp))
    res, t_eval = timed(lambda: ev.evaluate(0.5, 0.3))
    _, t_parts = timed(lambda: part_state_accuracy(gp, ev.flat, 0.5))
    _, t_grid = timed(ev.grid)
    ours = t_flat + t_eval
    print(f"ours:      score {res.score!r}")
    print(f"           read both JSON files {t_load:.2f}s; flatten+match {t_flat:.2f}s "
          f"({default_workers(gp, gv)} workers; 1 worker: {t_flat1:.2f}s); scoring {t_eval:.3f}s; "
          f"part-state accuracy {t_parts:.2f}s; 5x5 grid {t_grid:.2f}s")
    print(f"           evaluate total (read + flatten + score + part accuracy): {t_load + ours + t_parts:.2f}s")
    if args.skip_reference:
        return
    ref, t_ref = timed(lambda: reference_score(gv, gp, pv, pp))
    print(f"reference: score {ref!r}  {t_ref:.2f}s")
    print(f"equal: {ref == res.score} (|diff| = {abs(ref - res.score):.3e}); speed-up {t_ref / ours:.1f}x "
          f"(one threshold pair); the official grid runs the reference 26 times: ~{26 * t_ref:.0f}s vs "
          f"{ours + t_grid:.2f}s")


if __name__ == "__main__":
    main()
