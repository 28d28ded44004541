"""The report's Table 1 as rows of switches, each parsed and scored with the Kinetics-TPS metric.

Table 1 of the report adds one component per row to the class-prior baseline: frozen BN + model
ensemble for the action, pose-guided part detection, box refinement, video-level part states, and the
ensemble of the part-state classifiers. Here each row is an :class:`AblationRow` of parser switches;
:func:`run_ablation` parses the videos once per row through memoised stages
(:mod:`~partparse.experiments.stage_cache`), so what rows share (persons, poses, video scores) is computed
once, and scores every row. Frozen BN is a training switch (``model.frozen_bn`` of the CSN recipe): the
row uses whichever video models it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from partparse.data.tps_format import read_result_files, submission_to_json
from partparse.data.vocabulary import COARSE_PARTS
from partparse.evaluation.part_state_accuracy import part_state_accuracy
from partparse.evaluation.tps_metric import TPSEvaluator, TPSResult
from partparse.experiments.stage_cache import (
    CachedPartDetector,
    CachedPersonDetector,
    CachedPoseEstimator,
    CachedVideoScorer,
)
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.pose_stream import PoseStream
from partparse.pipeline.stages import PartDetector, PersonDetector, PoseEstimator, VideoScorer
from partparse.pipeline.video_scorers import FusedVideoScorer
from partparse.structures import VideoPrediction


@dataclass(frozen=True)
class AblationRow:
    """One row: ``ensemble`` fuses every video model's action scores (else the first model's);
    ``part_ensemble`` does the same for the part-state heads; ``part_states``: ``class_prior`` (the
    baseline), ``video`` (the part heads) or ``fused`` (with the pose stream, :data:`POSE_ROW`);
    ``frozen_bn``: the video models fine-tuned with BatchNorm frozen (:attr:`AblationStages.video`), else
    those fine-tuned with it trained (:attr:`AblationStages.video_trained_bn`, when given)."""

    name: str
    ensemble: bool
    pose_guidance: bool
    box_refinement: bool
    part_states: str
    part_ensemble: bool
    frozen_bn: bool = True


TABLE1: tuple[AblationRow, ...] = (
    AblationRow("class-prior baseline", False, False, False, "class_prior", False, frozen_bn=False),
    AblationRow("+ frozen BN and ensemble", True, False, False, "class_prior", False),
    AblationRow("+ pose-guided parts", True, True, False, "class_prior", False),
    AblationRow("+ box refinement", True, True, True, "class_prior", False),
    AblationRow("+ video-level part states", True, True, True, "video", False),
    AblationRow("+ part-state ensemble", True, True, True, "video", True),
)
#: Beyond the report (issue 15): per-keyframe states of each track from the pose stream fused with the video
#: heads, and the action fused from both streams (needs :attr:`AblationStages.pose_stream`).
POSE_ROW = AblationRow("+ pose-trajectory states", True, True, True, "fused", True)


@dataclass
class AblationStages:
    """The trained stages the rows choose from. ``parts_plain``: the part detector trained without
    keypoint dots (rows without pose guidance); ``parts_guided``: the one trained with them.
    ``video``: the video models (first = the single model of rows without ensemble), fine-tuned with
    frozen BatchNorm; ``video_trained_bn``: the same models fine-tuned with BatchNorm trained, used by
    rows without ``frozen_bn`` (empty: those rows use ``video`` too)."""

    person: PersonDetector
    pose: PoseEstimator | None
    parts_plain: PartDetector | None
    parts_guided: PartDetector | None
    video: Sequence[VideoScorer]
    prior: ClassPriorPartStates | None
    video_trained_bn: Sequence[VideoScorer] = ()
    pose_stream: PoseStream | None = None

    def cached(self) -> AblationStages:
        return AblationStages(
            CachedPersonDetector(self.person), self.pose and CachedPoseEstimator(self.pose),
            self.parts_plain and CachedPartDetector(self.parts_plain),
            self.parts_guided and CachedPartDetector(self.parts_guided),
            [CachedVideoScorer(v) for v in self.video], self.prior,
            video_trained_bn=[CachedVideoScorer(v) for v in self.video_trained_bn], pose_stream=self.pose_stream)


@dataclass
class AblationResult:
    row: AblationRow
    score: float
    mean_psc: float
    action_top1: float
    part_state_accuracy: float
    seconds: float                     # this row's parse, reusing what earlier rows computed
    alone_seconds: float               # the same parse on its own: reused stages counted at their first cost
    predictions: list[VideoPrediction]
    tps: TPSResult | None = None       # per-video PSC and action correctness

    def to_dict(self) -> dict:
        return {"row": self.row.name, "score": self.score, "mean_psc": self.mean_psc,
                "action_top1": self.action_top1, "part_state_accuracy": self.part_state_accuracy,
                "seconds": self.seconds, "alone_seconds": self.alone_seconds}


def _video_scorer(row: AblationRow, models: Sequence[VideoScorer]) -> list[VideoScorer]:
    if not models:
        return []
    if len(models) == 1:
        return [models[0]]
    single = [1.0] + [0.0] * (len(models) - 1)
    action_w = [1.0] * len(models) if row.ensemble else single
    part_w = [1.0] * len(models) if row.part_ensemble else single
    return [FusedVideoScorer(models, {"action": action_w, **{p: part_w for p in COARSE_PARTS}})]


def build_row_parser(row: AblationRow, stages: AblationStages, base: ParserConfig) -> PartParser:
    cfg = replace(base, pose_guidance=row.pose_guidance, box_refinement=row.box_refinement,
                  part_states=row.part_states)
    parts = stages.parts_guided if row.pose_guidance else stages.parts_plain
    video = stages.video if row.frozen_bn or not stages.video_trained_bn else stages.video_trained_bn
    return PartParser(cfg, stages.person, stages.pose, parts, _video_scorer(row, video), stages.prior,
                      stages.pose_stream)


def score_predictions(predictions: Sequence[VideoPrediction], gt_dir: str | Path) -> dict[str, float]:
    """TPS score, mean PSC, action top-1 and part-state accuracy against the GT videos among them."""
    return evaluate_predictions(predictions, read_result_files(gt_dir, submission=False))[0]


def evaluate_predictions(predictions: Sequence[VideoPrediction], gt: tuple[dict, dict]
                         ) -> tuple[dict[str, float], TPSResult]:
    """:func:`score_predictions` against ``gt`` (``(gt_vid, gt_part)`` as read from a GT folder), and the
    metric's per-video result (PSC and action correctness per video, what
    :func:`~partparse.experiments.row_bootstrap.score_difference_interval` resamples)."""
    gt_vid, gt_part = gt
    ids = {p.video_id for p in predictions}
    gt_vid = {v: a for v, a in gt_vid.items() if v in ids}
    pred_vid, pred_part = submission_to_json(predictions)
    evaluator = TPSEvaluator(gt_vid, gt_part, pred_vid, pred_part)
    result = evaluator.evaluate()
    acc = part_state_accuracy({v: gt_part[v] for v in gt_vid}, evaluator.flat, 0.5)["mean"]
    return {"score": result.score, "mean_psc": result.mean_psc, "action_top1": result.video_accuracy,
            "part_state_accuracy": acc}, result


def run_ablation(rows: Sequence[AblationRow], stages: AblationStages, videos: Sequence[Path], gt_dir: str | Path,
                 base: ParserConfig | None = None,
                 on_video: Callable[[AblationRow, Path], None] | None = None) -> list[AblationResult]:
    """Parse ``videos`` once per row (shared stages memoised) and score each row against ``gt_dir``."""
    base = base if base is not None else ParserConfig()
    stages = stages.cached()
    gt = read_result_files(gt_dir, submission=False)  # read once: every row is scored against it
    out = []
    for row in rows:
        parser = build_row_parser(row, stages, base)
        reused = _reused_seconds(stages)
        t0 = time.perf_counter()
        predictions = []
        for path in videos:
            predictions.append(parser.parse_video(path))
            if on_video is not None:
                on_video(row, path)
        seconds = time.perf_counter() - t0
        scores, tps = evaluate_predictions(predictions, gt)
        out.append(AblationResult(row, seconds=seconds, alone_seconds=seconds + _reused_seconds(stages) - reused,
                                  predictions=predictions, tps=tps, **scores))
    return out


def _reused_seconds(stages: AblationStages) -> float:
    """What the memoised stages' hits have saved so far (:mod:`stage_cache`)."""
    memos = [stages.person, stages.pose, stages.parts_plain, stages.parts_guided, *stages.video,
             *stages.video_trained_bn]
    unique = {id(m): m for m in memos if m is not None}
    return sum(getattr(m, "reused_seconds", 0.0) for m in unique.values())
