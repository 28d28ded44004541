"""Benchmark: the vectorised Kinetics-TPS evaluator against the loop-based reference (the test oracle).

Builds a ground truth at the scale of the Kinetics-TPS test set (932 videos, every 5th frame of ~10 s
clips, 1-4 persons with 10 parts) and a noisy submission (up to 10 persons a frame, 1-3 proposals a
part), both seeded, and writes them as the official four files (cached in --data-dir). Then, each in a
fresh process, times what a user runs: ``partparse evaluate`` (read JSON + score + part-state accuracy;
and with ``--grid``; median of --repeats runs), and the reference on the same files (read JSON + score
one threshold pair). Prints both scores, checks that every video's PSC is bit-identical to the
reference's, the speed ratios (one pair; and the official protocol, the main pair plus the 5x5 grid: one
``json.load`` and 26 scoring loops of the reference, from its timed run, against ``evaluate --grid``),
and where one run of ours spends its time. With ``--before SRC`` it also
times an earlier version (its ``src/`` folder: ``git archive REV src | tar -x -C /tmp/before``),
interleaved with ours, and checks that its output is byte-identical; with ``--variant-env NAME=VALUE``,
this version's ``--grid`` run with that environment variable set, interleaved too. The load average is printed before
and after: the figures mean something only on an otherwise idle machine.

    .venv/bin/python benchmarks/bench_metric.py [--videos 932] [--frames 60] [--seed 0] [--repeats 3]
        [--before /tmp/before/src] [--variant-env NUMPY_MADVISE_HUGEPAGE=1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
from tests.oracle.tps_reference import area, video_scores
t0 = time.perf_counter()
d = [json.load(open(p)) for p in {files!r}]
t1 = time.perf_counter()
scores = video_scores(*d)
score = area(scores)
print(json.dumps({{"score": score, "psc": [psc for _, psc, _ in scores], "read": t1 - t0,
                  "score_time": time.perf_counter() - t1}}))
"""

# One run of what `partparse evaluate` does, phase by phase (wall seconds since the start, and since the
# phase before), plus every video's PSC: the readers hand on each folder's humans, then its parts' boxes
# and states (the submission's in pieces); the humans are joined while the readers read on, each piece of
# proposals while the next is read (what TPSEvaluator.from_folders does).
PHASES = """
import json, time
t0 = time.perf_counter()
import partparse.cli
from partparse.cli.evaluate import without_huge_page_advice
from partparse.evaluation.folder_tables import FolderReaders
from partparse.evaluation.table_join import ProposalJoin, join_humans
from partparse.evaluation.tps_metric import TPSEvaluator
marks = [("imports", time.perf_counter())]
with without_huge_page_advice(), FolderReaders({gt!r}, {pred!r}) as readers:
    gt_humans = readers.ground_truth_humans()
    marks.append(("GT humans in", time.perf_counter()))
    humans = readers.submission_humans()
    marks.append(("submission humans in", time.perf_counter()))
    joined = join_humans(gt_humans, humans)
    marks.append(("humans joined", time.perf_counter()))
    gt_parts = readers.ground_truth_parts()
    marks.append(("GT parts in", time.perf_counter()))
    proposals = ProposalJoin(joined, gt_parts)
    for piece in readers.submission_pieces():
        proposals.add(piece)
    marks.append(("last proposals joined", time.perf_counter()))
    flat = proposals.finish()
    marks.append(("proposals in order", time.perf_counter()))
ev = TPSEvaluator.from_flat(flat)
result = ev.evaluate()
marks.append(("score", time.perf_counter()))
ev.part_state_accuracy(0.5)
marks.append(("part-state accuracy", time.perf_counter()))
ev.grid()
marks.append(("the 24 other grid pairs", time.perf_counter()))
phases = {{name: (t - t0, t - before) for (name, t), (_, before) in zip(marks, [("", t0)] + marks)}}
print(json.dumps({{"psc": result.psc.tolist(), "score": result.score, "phases": phases}}))
"""


def make_data(folder: Path, videos: int, frames: int, seed: int) -> None:
    from partparse.io import write_json
    from tests.oracle.random_tps import noisy_submission, random_ground_truth

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


def run(cmd: list[str], env: dict | None = None) -> tuple[str, float, float, float]:
    """stdout, wall seconds, CPU seconds (user + system) and system seconds alone (the process and the
    children it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    system = after.ru_stime - before.ru_stime
    return out, wall, (after.ru_utime - before.ru_utime) + system, system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=932)
    ap.add_argument("--frames", type=int, default=60, help="annotated frames per video (every 5th of ~300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=None, help="where to cache the generated files")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each command; the median is reported")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--variant-env", default=None, metavar="NAME=VALUE",
                    help="also time `evaluate --grid` of this version with this environment variable set, "
                         "interleaved (e.g. NUMPY_MADVISE_HUGEPAGE=1: NumPy's huge-page advice back on)")
    ap.add_argument("--before", type=Path, default=None,
                    help="src/ folder of an earlier version to time against, interleaved with this one")
    args = ap.parse_args()
    folder = args.data_dir or Path("/tmp") / f"partparse_bench_tps_{args.videos}x{args.frames}_s{args.seed}"
    if not (folder / "stats.json").exists():
        make_data(folder, args.videos, args.frames, args.seed)
    stats = json.loads((folder / "stats.json").read_text())
    size = (folder / "pred" / "pred_part_result.json").stat().st_size
    print(f"data: {stats['videos']} videos, {stats['frames']} frames, {stats['gt_persons']} GT persons, "
          f"{stats['pred_persons']} predicted persons, {stats['proposals']} part proposals; "
          f"pred_part_result.json {size / 1e6:.0f} MB")
    gt, pred = folder / "gt", folder / "pred"
    cli = [sys.executable, "-m", "partparse.cli", "evaluate", "--gt", str(gt), "--pred", str(pred), "--json"]
    old_env = {**os.environ, "PYTHONPATH": str(args.before.resolve())} if args.before else None
    variant_env = dict(os.environ, **dict([args.variant_env.split("=", 1)])) if args.variant_env else None
    variant, variant_sys, grid_sys = [], [], []
    print(f"load average at the start: {_load()}")
    starts, plain, cpu, grid, outs, grid_outs = [], [], [], [], set(), set()
    old, old_cpu, old_outs, old_grid, old_grid_outs = [], [], set(), [], set()
    for _ in range(args.repeats):      # interleaved, so a burst of load on the machine hits all of them
        starts.append(run([sys.executable, "-c", "import partparse.cli"])[1])
        out, t, c, _ = run(cli)
        plain.append(t)
        cpu.append(c)
        outs.add(out)
        out, t, _, system = run(cli + ["--grid"])
        grid_sys.append(system)
        grid.append(t)
        grid_outs.add(out)
        if variant_env:
            out, t, _, system = run(cli + ["--grid"], env=variant_env)
            variant_sys.append(system)
            variant.append(t)
            assert out in grid_outs, "the variant's output differs"
        if old_env:
            out, t, c, _ = run(cli, env=old_env)
            old.append(t)
            old_cpu.append(c)
            old_outs.add(out)
            out, t, _, _ = run(cli + ["--grid"], env=old_env)
            old_grid.append(t)
            old_grid_outs.add(out)
    assert len(outs) == 1 and len(grid_outs) == 1, "runs disagree"
    ours_out = next(iter(outs))
    ours = json.loads(ours_out)
    t_ours, t_grid = float(np.median(plain)), float(np.median(grid))
    print(f"ours:      score {ours['score']!r}: `partparse evaluate --json` median {t_ours:.2f}s wall "
          f"(runs {', '.join(f'{t:.2f}' for t in plain)}), {np.median(cpu):.2f}s CPU (user + system, all "
          f"processes); process start + imports {np.median(starts):.2f}s; with --grid {t_grid:.2f}s (runs "
          f"{', '.join(f'{t:.2f}' for t in grid)})")
    if variant_env:
        print(f"variant:   `evaluate --grid` with {args.variant_env}: median {np.median(variant):.2f}s wall (runs "
              f"{', '.join(f'{t:.2f}' for t in variant)}), system CPU {np.median(variant_sys):.2f}s against "
              f"{np.median(grid_sys):.2f}s without; output identical")
    if old_env:
        t_old = float(np.median(old))
        print(f"before:    `partparse evaluate --json` from {args.before}: median {t_old:.2f}s wall (runs "
              f"{', '.join(f'{t:.2f}' for t in old)}), {np.median(old_cpu):.2f}s CPU; output identical: "
              f"{old_outs == {ours_out}}; speed-up {t_old / t_ours:.2f}x")
        t_old_grid = float(np.median(old_grid))
        print(f"before:    with --grid: median {t_old_grid:.2f}s wall (runs "
              f"{', '.join(f'{t:.2f}' for t in old_grid)}); output identical: {old_grid_outs == grid_outs}; "
              f"speed-up {t_old_grid / t_grid:.2f}x")
    phases = json.loads(run([sys.executable, "-c", PHASES.format(gt=str(gt), pred=str(pred))])[0])
    print("one run, by phase (at, +since the phase before): " + ", ".join(
        f"{k} {at:.2f}s (+{dt:.2f})" for k, (at, dt) in phases["phases"].items()))
    print(f"load average at the end: {_load()}")
    if args.skip_reference:
        return
    files = [str(gt / "gt_vid_result.json"), str(gt / "gt_part_result.json"),
             str(pred / "pred_vid_result.json"), str(pred / "pred_part_result.json")]
    out, t_ref, _, _ = run([sys.executable, "-c", REFERENCE.format(root=str(ROOT), files=files)])
    ref = json.loads(out)
    print(f"reference: score {ref['score']!r}: {t_ref:.2f}s wall (json.load {ref['read']:.2f}s, "
          f"scoring {ref['score_time']:.2f}s)")
    same_psc = phases["psc"] == ref["psc"]
    official = 26 * ref["score_time"] + ref["read"]
    print(f"equal: score {ref['score'] == ours['score'] == phases['score']}, every PSC {same_psc}; speed-up "
          f"{t_ref / t_ours:.1f}x for one threshold pair; the official script scores 26 pairs (main + 5x5 grid), "
          f"one json.load and 26 scoring loops: ~{official:.0f}s vs `evaluate --grid` {t_grid:.2f}s, speed-up "
          f"{official / t_grid:.0f}x")
    if not (same_psc and ref["score"] == ours["score"]):
        sys.exit("MISMATCH with the reference")

def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3]) + " (1, 5, 15 min)"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
