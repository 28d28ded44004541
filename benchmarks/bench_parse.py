"""Benchmark: whole-video parse throughput on CPU, per stage, with the small CPU recipes' models.

Models are built from the recipes in ``configs/`` with random weights (throughput does not depend on the
weights, only on how many persons and parts go through): ``yolof/yolof_r18_persons_syntps_cpu`` (frames
at 120 px short side), ``hrnet/hrnet_w18_small_syntps_cpu`` (128x96 crops, flip test),
``yolof/yolof_r18_parts_syntps_cpu`` (crops at 96 px, pose-guided) and ``csn/ir_csn_26_syntps_cpu``
(3 test clips of 8x4 frames, centre crop 112; action + 6 coarse-part heads). Random detectors score every
candidate about equally, so the person score threshold is 0 and ``--persons`` (the most SynTPS draws a
frame) go through pose and parts on every keyframe.

The video is a SynTPS clip (320x240, 64 frames at 15 fps, every 5th frame a keyframe: 13 keyframes).
Reference, measured in the same run: decoding every frame of the video to RGB with PyAV
(:class:`~partparse.data.video_reader.VideoReader`), the floor of any parser; ``x decode`` is parse time
over decode time. Figures are medians of ``--repeats`` parses after one warm-up parse.

The machine this was written on has 2 cores shared with other jobs: numbers are noisy, and with several
busy processes two intra-op threads spin against each other (a YOLOF-R18 forward measured 30x slower
than with one), hence ``--threads 1`` by default.

    .venv/bin/python benchmarks/bench_parse.py [--repeats 3] [--threads 1] [--persons 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from partparse.config import load_recipe
from partparse.data.part_labels import LabelSpace
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.data.video_reader import VideoReader
from partparse.data.vocabulary import COARSE_PARTS
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.model_builders import build_detection_model
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.model_builders import build_pose_model
from partparse.engine.video_recipe import VideoRecipe
from partparse.engine.model_builders import build_video_model
from partparse.pipeline.adapters import (
    HRNetPoseEstimator, PartDetectorConfig, PersonDetectorConfig, PoseEstimatorConfig, YOLOFPartDetector,
    YOLOFPersonDetector,
)
from partparse.pipeline.parser import STAGES, ParserConfig, PartParser
from partparse.pipeline.video_scorers import CSNVideoScorer, VideoScorerConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def cpu_models() -> dict:
    """Random-init models of the small CPU recipes, the video model's class names and test clips."""
    torch.manual_seed(0)
    out = {}
    for key, file in (("person", "yolof/yolof_r18_persons_syntps_cpu.yaml"), ("parts", "yolof/yolof_r18_parts_syntps_cpu.yaml")):
        recipe = load_recipe(CONFIGS / file, DetectionRecipe, ["model.score_thresh=0.0"])
        out[key] = build_detection_model(recipe, load_pretrained=False).eval()
    out["pose"] = build_pose_model(load_recipe(CONFIGS / "hrnet/hrnet_w18_small_syntps_cpu.yaml", PoseRecipe),
                                   load_pretrained=False).eval()
    video = load_recipe(CONFIGS / "csn/ir_csn_26_syntps_cpu.yaml", VideoRecipe)
    names = {"action": [f"a{i}" for i in range(10)]}  # SynTPS: 10 actions, ~2 states a part and action
    names.update({c: [f"a{i}_{c.capitalize()}_s{j}" for i in range(10) for j in range(2)] for c in COARSE_PARTS})
    out["video"] = build_video_model(video, {h: LabelSpace(n) for h, n in names.items()}).eval()
    out["video_config"] = VideoScorerConfig.from_clip_config(video.clips, batch_size=3)
    out["names"] = names
    return out


def build_parser(models: dict, persons: int, variant: str) -> PartParser:
    person = YOLOFPersonDetector(models["person"], PersonDetectorConfig(score_thr=0.0))
    pose = HRNetPoseEstimator(models["pose"], PoseEstimatorConfig())
    parts = YOLOFPartDetector(models["parts"], PartDetectorConfig(score_thr=0.0))
    video = CSNVideoScorer(models["video"], models["names"], models["video_config"])
    no_pose = ParserConfig(top_k_persons=persons, box_refinement=False, pose_guidance=False)
    if variant == "no pose (no refinement, no guidance)":
        return PartParser(no_pose, person, None, parts, [video])
    if variant == "persons + video only":
        return PartParser(no_pose, person, video_scorers=[video])
    return PartParser(ParserConfig(top_k_persons=persons), person, pose, parts, [video])


def median_parse(parser: PartParser, video: Path, repeats: int) -> dict[str, float]:
    parser.parse(video)  # warm-up: oneDNN primitives, allocator growth
    runs = [parser.parse(video).timings for _ in range(repeats)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def decode_seconds(video: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        with VideoReader(video) as reader:
            reader.read_all()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--persons", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="only the full parser, one repeat")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.repeats = 1
    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(SynthConfig(videos=1, seed=0, val_fraction=0.0), Path(tmp))
        video = next(Path(tmp).rglob("*.mp4"))
        with VideoReader(video) as r:
            info = r.info
        ref = decode_seconds(video, args.repeats)
        variants = ["full (pose, refinement, guidance)"]
        if not args.quick:
            variants += ["no pose (no refinement, no guidance)", "persons + video only"]
        models = cpu_models()
        rows = [(v, median_parse(build_parser(models, args.persons, v), video, args.repeats)) for v in variants]
    keyframes = len(range(0, info.num_frames, ParserConfig().keyframe_step))
    table = Table(title=f"parse throughput, CPU, {args.threads} thread(s): {info.width}x{info.height}, "
                        f"{info.num_frames} frames, {keyframes} keyframes, {args.persons} persons a keyframe; "
                        f"median of {args.repeats}")
    for col in ("parser", *STAGES, "total s", "video frames/s", "keyframes/s", "x decode"):
        table.add_column(col, justify="left" if col == "parser" else "right")
    table.add_row("reference: decode all frames", *[""] * len(STAGES), f"{ref:.3f}",
                  f"{info.num_frames / ref:.0f}", "", "1.0")
    for name, t in rows:
        table.add_row(name, *[f"{t[s]:.2f}" for s in STAGES], f"{t['total']:.2f}", f"{info.num_frames / t['total']:.1f}",
                      f"{keyframes / t['total']:.2f}", f"{t['total'] / ref:.0f}")
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
