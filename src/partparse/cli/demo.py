"""``partparse demo`` (what ``make demo`` runs): the data and the metric end to end, on a CPU.

Today: generate a small SynTPS dataset, draw a contact sheet of one validation video, and score three
reference submissions on the validation split with the Kinetics-TPS metric: the ground truth itself,
the report's class-prior part-state baseline, and the upper bound of its video-level part states (both
with ground-truth boxes and actions, so only the part-state term varies). Model training joins the demo
as the models land (see the README's status table).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from partparse.data.tps_format import PRED_PART_FILE, PRED_VID_FILE
from partparse.evaluation.part_state_accuracy import part_state_accuracy
from partparse.evaluation.tps_metric import TPSEvaluator
from partparse.io import InputError, read_json, write_json
from partparse.pipeline.part_state_transfer import (
    ClassPriorPartStates, class_prior_submission, ground_truth_submission, video_oracle_submission,
)


def demo(
    out: Annotated[Path, typer.Option(help="Output folder (dataset, submissions, contact sheet).")] = Path("demo_out"),
    videos: Annotated[int, typer.Option(help="Synthetic videos to generate.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes for data generation.")] = 2,
) -> None:
    """Generate synthetic data and score reference submissions with the Kinetics-TPS metric."""
    from partparse.data.synthetic.generator import SynthConfig, generate_dataset
    from partparse.data.synthetic.preview import contact_sheet

    console = Console()
    try:
        data = out / "syntps"
        t0 = time.perf_counter()
        if not (data / "gt_val" / "gt_vid_result.json").exists():
            with console.status(f"generating {videos} synthetic videos ..."):
                generate_dataset(SynthConfig(videos=videos, seed=seed), data, workers=workers)
        else:
            console.print(f"reusing the dataset in {data}")
        t_data = time.perf_counter() - t0
        train = read_json(data / "gt_train" / "gt_vid_result.json"), read_json(data / "gt_train" / "gt_part_result.json")
        gt_vid, gt_part = read_json(data / "gt_val" / "gt_vid_result.json"), read_json(data / "gt_val" / "gt_part_result.json")
        sheet = contact_sheet(data, next(iter(gt_vid)), out / "preview.png")
        prior = ClassPriorPartStates.fit(*train)
        rows = {
            "ground truth (upper bound)": ground_truth_submission(gt_vid, gt_part),
            "class-prior part states (report baseline)": class_prior_submission(gt_vid, gt_part, prior),
            "video-level part states, oracle labels": video_oracle_submission(gt_vid, gt_part),
        }
        table = Table(title=f"Kinetics-TPS on SynTPS val ({len(gt_vid)} videos; GT boxes and actions)")
        for col in ("submission", "TPS score", "mean PSC", "part-state acc."):
            table.add_column(col, justify="left" if col == "submission" else "right")
        for i, (name, (pv, pp)) in enumerate(rows.items()):
            write_json(out / f"submission_{i}" / PRED_VID_FILE, pv)
            write_json(out / f"submission_{i}" / PRED_PART_FILE, pp)
            ev = TPSEvaluator(gt_vid, gt_part, pv, pp)
            r = ev.evaluate()
            acc = part_state_accuracy(gt_part, ev.flat, 0.5)["mean"]
            table.add_row(name, f"{100 * r.score:.2f}", f"{100 * r.mean_psc:.2f}", f"{100 * acc:.1f}")
        console.print(table)
        console.print(f"data {t_data:.1f}s; contact sheet: {sheet}; submissions in {out}/submission_*; "
                      f"re-score one with: partparse evaluate --gt {data / 'gt_val'} --pred {out / 'submission_1'}")
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False)
        raise typer.Exit(2)

