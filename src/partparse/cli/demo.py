"""``partparse demo`` (what ``make demo`` runs): the whole system trained and scored on a CPU.

1. generate a small SynTPS dataset and export its COCO views (persons, part crops, keypoints);
2. train every model with the small CPU recipes of ``configs/`` through the same trainer as
   ``partparse train``: YOLOF-R18 persons, HRNet-W18-small pose, YOLOF-R18 parts with and without
   keypoint dots, ir-CSN-26 and ip-CSN-26 (action + 6 part-state heads);
3. parse the validation videos once per row of the report's Table 1 (shared stages computed once) and
   score every row with the Kinetics-TPS metric, next to reference submissions (ground truth; the
   class prior and the video-level oracle on ground-truth boxes and actions);
4. render one overlay video and an HTML report of the full system.

Everything goes under ``--out``; a rerun reuses what is there (the dataset, finished trainings).
The budgets (``--videos``, ``--budget``) are sized for about 15 minutes on 2 cores: the models are
smoke-scale, trained from scratch for minutes, not a benchmark (see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.io import InputError, read_json, write_json

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

#: (work dir name, recipe, data root: "syn" = the dataset, "coco" = its COCO export)
STAGES = (
    ("persons", "yolof/yolof_r18_persons_syntps_cpu.yaml", "coco"),
    ("pose", "hrnet/hrnet_w18_small_syntps_cpu.yaml", "coco"),
    ("parts_guided", "yolof/yolof_r18_parts_syntps_cpu.yaml", "coco"),
    ("parts_plain", "yolof/yolof_r18_parts_noguide_syntps_cpu.yaml", "coco"),
    ("ir_csn", "csn/ir_csn_26_syntps_cpu.yaml", "syn"),
    ("ip_csn", "csn/ip_csn_26_syntps_cpu.yaml", "syn"),
)
#: Per-stage training budget (overrides of the recipes), by --budget.
BUDGETS = {
    "smoke": {"detection": ["schedule.epochs=1", "train.max_iters_per_epoch=10", "data.val_max_images=16"],
              "pose": ["schedule.epochs=1", "train.max_iters_per_epoch=10"],
              "video": ["schedule.epochs=1", "schedule.milestones=[1]", "train.max_iters_per_epoch=4"]},
    # sized for ~15 min on 2 free cores: detectors 120 steps, validated on 120 images (COCO AP is printed);
    # part crops at 160-320 px instead of 192-384 (parsing runs the part detector on every person crop)
    "demo": {"detection": ["train.max_iters_per_epoch=120", "data.val_max_images=120"], "pose": [],
             "parts": ["input.min_size=160", "input.max_size=320"],
             "video": ["schedule.epochs=8", "schedule.milestones=[6]", "train.val_interval=4"]},
}
#: Persons kept per keyframe when the demo parses (the report and the recipes keep 10). SynTPS videos hold
#: at most 3 people; the demo's briefly trained detector scores its duplicates alike, and every kept
#: person costs a pose and two part-detector passes per Table 1 row.
DEMO_TOP_K_PERSONS = 5


def _train_stage(name: str, recipe: Path, root: Path, work: Path, extra: list[str], console: Console) -> float:
    from partparse.cli.train import train
    from partparse.engine.tasks import task_of

    if (work / "latest.pth").exists() and (work / "done.json").exists():
        console.print(f"[dim]{name}: reusing {escape(str(work))}[/dim]")
        return float(read_json(work / "done.json")["seconds"])
    console.rule(f"training {name} ({escape(recipe.name)})")
    t0 = time.perf_counter()
    resume = (work / "latest.pth").exists()  # else an unfinished run without a checkpoint: start it again
    train(recipe=recipe, resume=resume, force=not resume,
          overrides=[f"data.root={root}", f"train.work_dir={work}", "train.num_workers=0", *extra], progress=True)
    seconds = time.perf_counter() - t0
    write_json(work / "done.json", {"seconds": seconds, "task": task_of(recipe)})
    return seconds


def demo(
    out: Annotated[Path, typer.Option(help="Output folder (dataset, runs, submissions, report).")] = Path("demo_out"),
    videos: Annotated[int, typer.Option(help="Synthetic videos to generate (80% train).")] = 100,
    parse_videos: Annotated[int, typer.Option(help="Validation videos to parse per Table 1 row.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes for data generation.")] = 2,
    budget: Annotated[str, typer.Option(help="Training budget: demo (about 15 min on 2 cores) or smoke (seconds).")] = "demo",
) -> None:
    """Generate data, train every stage on the CPU, parse, and print the report's Table 1 for this data."""
    console = Console()
    # checked before anything is generated: a train and a val video at least, one video parsed per row
    for bad, why in ((budget not in BUDGETS, f"--budget must be one of {', '.join(BUDGETS)}"),
                     (videos < 2, f"--videos must be >= 2 (one train and one val video), got {videos}"),
                     (parse_videos < 1, f"--parse-videos must be >= 1, got {parse_videos}"),
                     (workers < 1, f"--workers must be >= 1, got {workers}")):
        if bad:
            Console(stderr=True).print(f"error: {why}", markup=False, highlight=False)
            raise typer.Exit(2)
    try:
        timings = {}
        t0 = time.perf_counter()
        data, coco = _prepare_data(out, videos, seed, workers, console)
        timings["data + COCO export"] = time.perf_counter() - t0
        runs = out / "runs"
        for name, recipe, root in STAGES:
            task = "video" if recipe.startswith("csn") else "pose" if recipe.startswith("hrnet") else "detection"
            extra = list(BUDGETS[budget][task])
            if name.startswith("parts"):  # the part detectors start from the person detector's weights
                extra += [*BUDGETS[budget].get("parts", []), f"model.load_from={runs / 'persons'}"]
            timings[f"train {name}"] = _train_stage(name, CONFIGS / recipe, coco if root == "coco" else data,
                                                    runs / name, extra, console)
        t0 = time.perf_counter()
        results = _table1(out, data, runs, parse_videos, console)
        timings["parse + score Table 1"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _render(out, data, results[-1], console)
        timings["overlay + report"] = time.perf_counter() - t0
        _print_timings(timings, console)
        write_json(out / "demo_summary.json", {"table1": [r.to_dict() for r in results], "seconds": timings}, indent=1)
    except InputError as err:
        Console(stderr=True).print(f"error: {err}", markup=False, highlight=False)
        raise typer.Exit(2)


def _prepare_data(out: Path, videos: int, seed: int, workers: int, console: Console) -> tuple[Path, Path]:
    from partparse.data.synthetic.export_coco import export_part_detection, export_person_detection, export_pose
    from partparse.data.synthetic.generator import SynthConfig, generate_dataset

    data, coco = out / "syntps", out / "syntps_coco"
    if not (data / "gt_val" / "gt_vid_result.json").exists():
        with console.status(f"generating {videos} synthetic videos ..."):
            generate_dataset(SynthConfig(videos=videos, seed=seed), data, workers=workers)
    else:
        console.print(f"reusing the dataset in {escape(str(data))}")
    if not (coco / "person_keypoints_val.json").exists():
        with console.status("exporting COCO views (persons, part crops, keypoints) ..."):
            for split in ("train", "val"):
                export_person_detection(data, split, coco)
                export_part_detection(data, split, coco)
                export_pose(data, split, coco)
    return data, coco


def _load_stages(data: Path, runs: Path):
    from partparse.experiments.ablation import AblationStages
    from partparse.pipeline.parse_recipe import (
        ParseRecipe, load_class_prior, load_part_detector, load_person_detector, load_pose_estimator,
        load_trained_model, resolve_device, video_class_names,
    )
    from partparse.pipeline.video_scorers import CSNVideoScorer, VideoScorerConfig

    recipe = ParseRecipe()
    device = resolve_device(recipe.parser.device)
    video = []
    for name in ("ir_csn", "ip_csn"):
        model, video_recipe = load_trained_model(str(runs / name), "video", device)
        video.append(CSNVideoScorer(model, video_class_names(str(runs / name)),
                                    VideoScorerConfig.from_clip_config(video_recipe.clips)))
    return AblationStages(
        person=load_person_detector(str(runs / "persons"), recipe.person, device),
        pose=load_pose_estimator(str(runs / "pose"), recipe.pose, device),
        parts_plain=load_part_detector(str(runs / "parts_plain"), recipe.parts, False, device),
        parts_guided=load_part_detector(str(runs / "parts_guided"), recipe.parts, True, device),
        video=video, prior=load_class_prior(data / "gt_train"))


def _table1(out: Path, data: Path, runs: Path, n_videos: int, console: Console):
    from rich.progress import Progress

    from partparse.data.video_dataset import list_videos
    from partparse.experiments.ablation import TABLE1, run_ablation
    from partparse.pipeline.parser import ParserConfig
    from partparse.experiments.oracle_submissions import (
        class_prior_submission, ground_truth_submission, video_oracle_submission,
    )
    from partparse.pipeline.part_state_transfer import ClassPriorPartStates
    from partparse.evaluation.tps_metric import TPSEvaluator

    stages = _load_stages(data, runs)
    videos = [p for p, _ in list_videos(data, "val")]
    videos = videos[:: max(1, len(videos) // n_videos)][:n_videos]
    with Progress(console=console) as bar:
        task = bar.add_task("parsing Table 1 rows", total=len(TABLE1) * len(videos))
        results = run_ablation(TABLE1, stages, videos, data / "gt_val", ParserConfig(top_k_persons=DEMO_TOP_K_PERSONS),
                               on_video=lambda r, p: bar.advance(task))
    gt_vid, gt_part = read_json(data / "gt_val" / "gt_vid_result.json"), read_json(data / "gt_val" / "gt_part_result.json")
    ids = {p.stem for p in videos}
    gt_vid = {v: a for v, a in gt_vid.items() if v in ids}
    gt_part = {v: p for v, p in gt_part.items() if v in ids}
    prior = ClassPriorPartStates.fit(read_json(data / "gt_train" / "gt_vid_result.json"),
                                     read_json(data / "gt_train" / "gt_part_result.json"))
    references = {
        "ground truth": ground_truth_submission(gt_vid, gt_part),
        "GT boxes + actions, class-prior states": class_prior_submission(gt_vid, gt_part, prior),
        "GT boxes + actions, video-level oracle states": video_oracle_submission(gt_vid, gt_part),
    }
    table = Table(title=f"Table 1 on SynTPS val ({len(videos)} videos, top {DEMO_TOP_K_PERSONS} persons per keyframe; "
                        "models trained on the CPU in this run)")
    for col in ("row", "TPS score", "mean PSC", "action top-1", "part-state acc.", "parse s"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for r in results:
        table.add_row(escape(r.row.name), f"{100 * r.score:.2f}", f"{100 * r.mean_psc:.2f}",
                      f"{100 * r.action_top1:.1f}", f"{100 * r.part_state_accuracy:.1f}", f"{r.seconds:.1f}")
    table.add_section()
    for name, (pv, pp) in references.items():
        res = TPSEvaluator(gt_vid, gt_part, pv, pp).evaluate()
        table.add_row(f"[dim]reference: {escape(name)}[/dim]", f"{100 * res.score:.2f}", f"{100 * res.mean_psc:.2f}",
                      f"{100 * res.video_accuracy:.1f}", "", "")
    console.print(table)
    return results


def _render(out: Path, data: Path, full, console: Console) -> None:
    from partparse.data.tps_format import write_submission
    from partparse.viz.html_report import ReportVideo, write_html_report
    from partparse.viz.overlay import render_overlay

    write_submission(full.predictions, out / "submission")
    paths = {p.stem: p for p in (data / "val_videos").glob("*/*.mp4")}
    first = full.predictions[0]
    overlay = render_overlay(paths[first.video_id], first, out / "overlays" / f"{first.video_id}.mp4")
    report = write_html_report([ReportVideo(p, {"video_path": str(paths[p.video_id])}) for p in full.predictions],
                               out / "report.html", data / "gt_val", title="partparse demo: the full system on SynTPS val")
    console.print(f"overlay: {escape(str(overlay))}; report: {escape(str(report))}; submission: "
                  f"{escape(str(out / 'submission'))} (re-score: partparse evaluate --gt {escape(str(data / 'gt_val'))} "
                  f"--pred {escape(str(out / 'submission'))})")


def _print_timings(timings: dict[str, float], console: Console) -> None:
    table = Table(title="time per stage")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for k, v in timings.items():
        table.add_row(escape(k), f"{v:.1f}")
    table.add_row("total", f"{sum(timings.values()):.1f}")
    console.print(table)
