"""``partparse demo`` (what ``make demo`` runs): the report's Table 1 measured on SynTPS, from the model zoo.

1. generate a SynTPS set from a seed no zoo model saw (``--seed``; the zoo trained on seed 7001 and was
   validated on 2021, the zoo tests use 424242);
2. fine-tune the zoo's CSNs on its train split the way the report fine-tunes its IG-65M CSNs
   (``configs/csn/*_csn_26_syntps_finetune.yaml``): ir-CSN with BatchNorm frozen and, for the ablation,
   trained; ip-CSN frozen. Each fine-tuning's learning curve is drawn;
3. parse the val videos once per row of the report's Table 1 (shared stages computed once) with the zoo's
   persons, pose and part detectors (with keypoint dots, and without for the rows before pose guidance)
   and the fine-tuned CSNs, then once more with per-keyframe part states from each track's keypoint
   trajectory (the zoo's pose stream, issue 15), and score every row with the Kinetics-TPS metric, next
   to reference rows (ground truth; on ground-truth boxes and actions: the class prior, the video-level
   oracle, and the pose stream on ground-truth keypoints);
4. draw the zoo models' learning curves, one overlay video and an HTML report with all of it.

Everything goes under ``--out``; a rerun reuses what is there (the dataset, finished fine-tunings). Sized
for about 10 minutes on 2 cores; ``--budget smoke`` fine-tunes for two steps (a wiring check).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.io import InputError, read_json, write_json

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

#: The seeds the zoo's models trained (7001) or were validated (2021) on: the demo measures elsewhere.
ZOO_SEEDS = (7001, 2021)
#: Fine-tunings from the zoo: (work dir name, recipe under configs/csn/, overrides). The first is the
#: frozen-BN ablation: Table 1's first row uses it, the other rows the frozen-BN ensemble.
FINETUNES = (
    ("ir_csn_trained_bn", "ir_csn_26_syntps_finetune.yaml", ("model.frozen_bn=false",)),
    ("ir_csn", "ir_csn_26_syntps_finetune.yaml", ()),
    ("ip_csn", "ip_csn_26_syntps_finetune.yaml", ()),
)
#: Overrides of the fine-tuning recipes per --budget.
BUDGETS = {"demo": (), "smoke": ("schedule.epochs=1", "train.max_iters_per_epoch=2", "schedule.warmup_iters=1")}
#: The part detector trained without keypoint dots (Table 1's rows before pose guidance).
PARTS_UNGUIDED = "zoo:syntps/parts-unguided"
#: Zoo models whose learning curves the demo draws, with the metrics of their panels.
ZOO_CURVES = {"zoo:syntps/persons": "AP50", "zoo:syntps/parts": "AP50", "zoo:syntps/parts-unguided": "AP50",
              "zoo:syntps/pose": "AP", "zoo:syntps/ir-csn": "top1_action", "zoo:syntps/ip-csn": "top1_action"}


def _train_stage(name: str, recipe: Path, root: Path, work: Path, extra: list[str], console: Console) -> float:
    from partparse.cli.train import train

    if (work / "latest.pth").exists() and (work / "done.json").exists():
        console.print(f"[dim]{name}: reusing {escape(str(work))}[/dim]")
        return float(read_json(work / "done.json")["seconds"])
    console.rule(f"fine-tuning {name} ({escape(recipe.name)} {escape(' '.join(extra))})")
    t0 = time.perf_counter()
    resume = (work / "latest.pth").exists()  # else an unfinished run without a checkpoint: start it again
    train(recipe=recipe, resume=resume, force=not resume,
          overrides=[f"data.root={root}", "data.val_root=null", f"train.work_dir={work}", "train.num_workers=0",
                     *extra], progress=True)
    seconds = time.perf_counter() - t0
    write_json(work / "done.json", {"seconds": seconds, "task": "video"})
    return seconds


def demo(
    out: Annotated[Path, typer.Option(help="Output folder (dataset, runs, submissions, report).")] = Path("demo_out"),
    videos: Annotated[int, typer.Option(help="Synthetic videos to generate (80% train, 20% val).")] = 250,
    parse_videos: Annotated[int, typer.Option(help="Validation videos to parse per Table 1 row.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset (one the zoo never saw).")] = 31415,
    workers: Annotated[int, typer.Option(help="Processes for data generation.")] = 2,
    budget: Annotated[str, typer.Option(
        help="Fine-tuning budget: demo (about 7 min on 2 cores with the parse) or smoke (seconds).")] = "demo",
) -> None:
    """Fine-tune the zoo's CSNs on fresh SynTPS data, parse, and print the report's Table 1 for this data."""
    console = Console()
    # checked before anything is generated: a train and a val video at least, one video parsed per row
    for bad, why in ((budget not in BUDGETS, f"--budget must be one of {', '.join(BUDGETS)}"),
                     (videos < 2, f"--videos must be >= 2 (one train and one val video), got {videos}"),
                     (parse_videos < 1, f"--parse-videos must be >= 1, got {parse_videos}"),
                     (workers < 1, f"--workers must be >= 1, got {workers}")):
        if bad:
            raise InputError(why)
    if seed in ZOO_SEEDS:
        console.print(f"[yellow]warning: the zoo's models trained or were validated on seed {seed}: "
                      "Table 1 will not measure them on unseen data[/yellow]")
    timings = {}
    t0 = time.perf_counter()
    data = _prepare_data(out, videos, seed, workers, console)
    timings["data"] = time.perf_counter() - t0
    runs = out / "runs"
    for name, recipe, extra in FINETUNES:
        timings[f"fine-tune {name}"] = _train_stage(name, CONFIGS / "csn" / recipe, data, runs / name,
                                                    [*extra, *BUDGETS[budget]], console)
    t0 = time.perf_counter()
    finetune = _finetune_table(runs, console)
    curves = _draw_curves(out, runs, console)
    timings["curves"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    table1 = _table1(data, runs, parse_videos, console)
    timings["parse + score Table 1"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _render(out, data, table1, finetune, curves, timings, console)
    timings["overlay + report"] = time.perf_counter() - t0
    _print_timings(timings, console)
    write_json(out / "demo_summary.json",
               {"seed": seed, "videos_parsed": len(table1.results[0].predictions) if table1.results else 0,
                "table1": [{**r.to_dict(), "delta": st["delta"], "delta_interval95": st["interval"]}
                           for r, st in zip(table1.results, table1.steps, strict=True)],
                "references": table1.references,
                "finetune": finetune, "seconds": timings}, indent=1)


def _prepare_data(out: Path, videos: int, seed: int, workers: int, console: Console) -> Path:
    from partparse.data.synthetic.generator import SynthConfig, generate_dataset

    data = out / "syntps"
    if not (data / "gt_val" / "gt_vid_result.json").exists():
        with console.status(f"generating {videos} SynTPS videos (seed {seed}) ..."):
            generate_dataset(SynthConfig(videos=videos, seed=seed), data, workers=workers)
    else:
        made = read_json(data / "synth_config.json")
        if (made.get("seed"), made.get("videos")) != (seed, videos):
            raise InputError(f"{data}: holds {made.get('videos')} videos of seed {made.get('seed')}, not {videos} of "
                             f"seed {seed}; give another --out (or the same --seed and --videos to reuse it)")
        console.print(f"reusing the dataset in {escape(str(data))}")
    return data


def _finetune_table(runs: Path, console: Console) -> list[dict]:
    """Each fine-tuning's last validation (action and mean part-head top-1) and its time."""
    from partparse.viz.learning_curves import read_curves

    rows = []
    table = Table(title="Fine-tuning the zoo's CSNs on this set's train split (val top-1 of its val split)")
    for col in ("model", "BatchNorm", "steps", "action top-1", "part heads top-1 (mean)", "seconds"):
        table.add_column(col, justify="left" if col in ("model", "BatchNorm") else "right")
    for name, recipe, extra in FINETUNES:
        curves = read_curves(runs / name)
        action, parts = curves.get("top1_action", [(0, float("nan"))]), curves.get("top1_mean", [(0, float("nan"))])
        row = {"run": name, "recipe": f"configs/csn/{recipe}", "overrides": list(extra),
               "frozen_bn": "model.frozen_bn=false" not in extra, "steps": action[-1][0],
               "top1_action": action[-1][1], "top1_part_heads_mean": parts[-1][1],
               "seconds": float(read_json(runs / name / "done.json")["seconds"])}
        rows.append(row)
        table.add_row(escape(name), "frozen" if row["frozen_bn"] else "trained", str(row["steps"]),
                      f"{100 * row['top1_action']:.1f}", f"{100 * row['top1_part_heads_mean']:.1f}",
                      f"{row['seconds']:.0f}")
    console.print(table)
    return rows


def _draw_curves(out: Path, runs: Path, console: Console) -> list[tuple[str, Path]]:
    from partparse.viz.learning_curves import plot_learning_curves

    folder = out / "curves"
    finetune = plot_learning_curves({name: runs / name for name, _, _ in FINETUNES},
                                    ["top1_action", "top1_mean", "train_loss"], folder / "finetune.png",
                                    title="fine-tuning from the zoo on this set (val split)")
    zoo = plot_learning_curves({name.removeprefix("zoo:"): name for name in ZOO_CURVES},
                               sorted(set(ZOO_CURVES.values())), folder / "zoo.png",
                               title="the zoo's models (SynTPS bench val)")
    console.print(f"learning curves: {escape(str(finetune))}, {escape(str(zoo))}")
    return [("Fine-tuning the zoo's CSNs on this set: validation top-1 and training loss against the step",
             finetune),
            ("The zoo's models while they trained (partparse zoo show NAME: recipe, data, rebuild commands)",
             zoo)]


@dataclass
class Table1:
    results: list          # AblationResult per row
    references: list[dict]
    steps: list[dict]      # per row: its step from the row above, with a 95 % bootstrap interval


def _load_stages(data: Path, runs: Path):
    from partparse.experiments.ablation import AblationStages
    from partparse.pipeline.parse_recipe import (
        load_class_prior,
        load_parse_recipe,
        load_part_detector,
        load_person_detector,
        load_pose_estimator,
        load_pose_stream,
        load_video_scorer,
        resolve_device,
    )

    recipe = load_parse_recipe("syntps-zoo")
    device = resolve_device(recipe.parser.device)

    def scorers(*names: str) -> list:
        return [load_video_scorer(str(runs / name), recipe.video, device) for name in names]

    m = recipe.models
    stages = AblationStages(
        person=load_person_detector(m.person, recipe.person, device),
        pose=load_pose_estimator(m.pose, recipe.pose, device),
        parts_plain=load_part_detector(PARTS_UNGUIDED, recipe.parts, False, device),
        parts_guided=load_part_detector(m.parts, recipe.parts, True, device),
        video=scorers("ir_csn", "ip_csn"),
        video_trained_bn=scorers("ir_csn_trained_bn"),
        prior=load_class_prior(data / "gt_train"),  # the report's baseline: the states of its training data
        pose_stream=load_pose_stream(m.pose_stream, device))
    return stages, recipe.parser


def _table1(data: Path, runs: Path, n_videos: int, console: Console) -> Table1:
    from rich.progress import Progress

    from partparse.data.video_dataset import list_videos
    from partparse.evaluation.tps_metric import TPSEvaluator
    from partparse.experiments.ablation import POSE_ROW, TABLE1, run_ablation
    from partparse.experiments.oracle_submissions import (
        class_prior_submission,
        ground_truth_submission,
        video_oracle_submission,
    )
    from partparse.experiments.pose_stream_oracle import keypoints_by_frame, pose_stream_oracle_submission
    from partparse.pipeline.part_state_transfer import ClassPriorPartStates

    rows = (*TABLE1, POSE_ROW)  # the report's rows, then per-keyframe states from keypoint trajectories (issue 15)
    stages, parser_config = _load_stages(data, runs)
    videos = [p for p, _ in list_videos(data, "val")]
    if n_videos < len(videos):  # spread over the list (sorted by action), so that every action is in
        import numpy as np

        videos = [videos[i] for i in np.unique(np.linspace(0, len(videos) - 1, n_videos).round().astype(int))]
    with Progress(console=console) as bar:
        task = bar.add_task(f"parsing {len(videos)} val videos per Table 1 row", total=len(rows) * len(videos))
        results = run_ablation(rows, stages, videos, data / "gt_val", parser_config,
                               on_video=lambda r, p: bar.advance(task))
    gt_vid = read_json(data / "gt_val" / "gt_vid_result.json")
    gt_part = read_json(data / "gt_val" / "gt_part_result.json")
    ids = {p.stem for p in videos}
    gt_vid = {v: a for v, a in gt_vid.items() if v in ids}
    gt_part = {v: p for v, p in gt_part.items() if v in ids}
    prior = ClassPriorPartStates.fit(read_json(data / "gt_train" / "gt_vid_result.json"),
                                     read_json(data / "gt_train" / "gt_part_result.json"))
    references = []
    for name, (pv, pp) in {
        "ground truth": ground_truth_submission(gt_vid, gt_part),
        "GT boxes + actions, class-prior states": class_prior_submission(gt_vid, gt_part, prior),
        "GT boxes + actions, video-level oracle states": video_oracle_submission(gt_vid, gt_part),
        "GT boxes + keypoints + actions, pose-stream states": pose_stream_oracle_submission(
            gt_vid, gt_part, keypoints_by_frame(data / "keypoints_val.json"), stages.pose_stream),
    }.items():
        res = TPSEvaluator(gt_vid, gt_part, pv, pp).evaluate()
        references.append({"row": name, "score": res.score, "mean_psc": res.mean_psc,
                           "action_top1": res.video_accuracy})
    steps = _steps(results)
    table = Table(title=f"Table 1 on SynTPS val ({len(videos)} videos of a seed the zoo never saw; zoo persons, "
                        "pose and parts; CSNs fine-tuned from the zoo in this run)",
                  caption="Δ: the step from the row above, [95 % interval of a paired bootstrap over the videos]; "
                          "an interval across 0 is within noise. parse s: the row's parse on its own (stages shared "
                          "with rows above are computed once; their cost counts in every row that uses them)")
    for col in ("row", "TPS score", "Δ [95 %]", "mean PSC", "action top-1", "part-state acc.", "parse s"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for r, step in zip(results, steps, strict=True):
        table.add_row(escape(r.row.name), f"{100 * r.score:.2f}", step["text"], f"{100 * r.mean_psc:.2f}",
                      f"{100 * r.action_top1:.1f}", f"{100 * r.part_state_accuracy:.1f}", f"{r.alone_seconds:.1f}")
    table.add_section()
    for ref in references:
        table.add_row(f"[dim]reference: {escape(ref['row'])}[/dim]", f"{100 * ref['score']:.2f}", "",
                      f"{100 * ref['mean_psc']:.2f}", f"{100 * ref['action_top1']:.1f}", "", "")
    console.print(table)
    return Table1(results, references, steps)


def _steps(results: list) -> list[dict]:
    """Per row, its step from the row above with a paired-bootstrap 95 % interval (the first row: none)."""
    from partparse.experiments.row_bootstrap import score_difference_interval

    out = [{"delta": None, "interval": None, "text": ""}]
    for before, after in itertools.pairwise(results):
        lo, hi = score_difference_interval(before.tps, after.tps)
        delta = after.score - before.score
        out.append({"delta": delta, "interval": [lo, hi],
                    "text": f"{100 * delta:+.2f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"})
    return out


def _render(out: Path, data: Path, table1: Table1, finetune: list[dict], curves: list[tuple[str, Path]],
            timings: dict[str, float], console: Console) -> None:
    from partparse.data.tps_format import write_submission
    from partparse.viz.html_report import ReportVideo, write_html_report
    from partparse.viz.overlay import render_overlay
    from partparse.viz.report_sections import ReportSection

    full = table1.results[-1]
    write_submission(full.predictions, out / "submission")
    paths = {p.stem: p for p in (data / "val_videos").glob("*/*.mp4")}
    first = full.predictions[0]
    overlay = render_overlay(paths[first.video_id], first, out / "overlays" / f"{first.video_id}.mp4")
    rows = [(r.row.name, f"{100 * r.score:.2f}", st["text"], f"{100 * r.mean_psc:.2f}", f"{100 * r.action_top1:.1f}",
             f"{100 * r.part_state_accuracy:.1f}") for r, st in zip(table1.results, table1.steps, strict=True)]
    rows += [(f"reference: {ref['row']}", f"{100 * ref['score']:.2f}", "", f"{100 * ref['mean_psc']:.2f}",
              f"{100 * ref['action_top1']:.1f}", "") for ref in table1.references]
    sections = [
        ReportSection("Table 1 (the report's rows, on this SynTPS set)",
                      note=f"{len(full.predictions)} val videos; each row adds one component to the one above. "
                           "Δ: the step from the row above, with the 95 % interval of a paired bootstrap over the "
                           "videos (an interval across 0 is within noise).",
                      header=("row", "TPS score", "Δ [95 %]", "mean PSC", "action top-1", "part-state acc."),
                      rows=rows),
        ReportSection("Fine-tuning from the zoo: frozen against trained BatchNorm",
                      header=("run", "BatchNorm", "steps", "action top-1", "part heads top-1 (mean)", "seconds"),
                      rows=[(f["run"], "frozen" if f["frozen_bn"] else "trained", f["steps"],
                             f"{100 * f['top1_action']:.1f}", f"{100 * f['top1_part_heads_mean']:.1f}",
                             f"{f['seconds']:.0f}") for f in finetune]),
        ReportSection("Learning curves", figures=curves),
        ReportSection("Time per stage of this run",
                      note="Table 1's rows share what they have in common (persons, poses, video scores are "
                           "computed once), so each row's parse time is what it added; \"on its own\" counts the "
                           "shared stages at their first cost too: what parsing with that row alone takes. The "
                           "per-video timings below are not recorded for the same reason (partparse parse "
                           "--report records them).",
                      header=("stage", "seconds", "on its own"),
                      rows=[*((k, f"{v:.1f}", "") for k, v in timings.items()),
                            *((f"parse: {r.row.name}", f"{r.seconds:.1f}", f"{r.alone_seconds:.1f}")
                              for r in table1.results)]),
    ]
    report = write_html_report([ReportVideo(p, {"video_path": str(paths[p.video_id])}) for p in full.predictions],
                               out / "report.html", data / "gt_val",
                               title="partparse demo: the full system on SynTPS val", extra_sections=sections)
    console.print(f"overlay: {escape(str(overlay))}; report: {escape(str(report))}; submission: "
                  f"{escape(str(out / 'submission'))} (re-score: partparse evaluate "
                  f"--gt {escape(str(data / 'gt_val'))} "
                  f"--pred {escape(str(out / 'submission'))})")


def _print_timings(timings: dict[str, float], console: Console) -> None:
    table = Table(title="time per stage")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for k, v in timings.items():
        table.add_row(escape(k), f"{v:.1f}")
    table.add_row("total", f"{sum(timings.values()):.1f}")
    console.print(table)
