"""The ``parse`` recipe: which models make the parser, and every switch of the parser.

A recipe (``configs/parse/*.yaml``, ``task: parse``) names per stage a trained work dir (what
``partparse train`` writes: ``recipe.yaml``, checkpoints, ``label_spaces.json``) or a model that needs
no training (:data:`PRETRAINED_POSE`, :data:`KEYPOINT_RULE`), and holds the stages' and the parser's
settings. :func:`build_parser` loads the trained models with
:func:`partparse.engine.trained_models.load_trained` and wires everything into a :class:`PartParser`.

Built-in recipes ship inside the package (``partparse/recipes/*.yaml``) and are named by
:data:`BUILTIN_RECIPES`: ``partparse parse VIDEO --recipe pretrained-persons`` works from any folder and
from an installed package; :func:`recipe_path` resolves a name or a path, :func:`load_parse_recipe`
reads it.
"""

from __future__ import annotations

import importlib.resources
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated

import torch

from partparse.config import MAX_SIDE, Check, at_least, between, each, one_of
from partparse.io import InputError, read_json
from partparse.model_zoo import is_zoo_name
from partparse.model_zoo import resolve as resolve_zoo
from partparse.pipeline.adapters import (
    HRNetPoseEstimator,
    PartDetectorConfig,
    PersonDetectorConfig,
    PoseEstimatorConfig,
    YOLOFPartDetector,
    YOLOFPersonDetector,
)
from partparse.pipeline.keypoint_parts import KeypointPartDetector, KeypointPartsConfig
from partparse.pipeline.parser import ParserConfig, PartParser
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.pretrained_persons import YoloPoseConfig, YoloPosePersons

#: ``models.person`` / ``models.pose``: YOLO11n-pose (optional extra ``partparse[pretrained]``), persons
#: with their keypoints, set up by the recipe's ``pretrained_persons`` section.
PRETRAINED_POSE = "pretrained:yolo11n-pose"
#: ``models.parts``: part boxes drawn from the keypoints (:mod:`partparse.pipeline.keypoint_parts`),
#: set up by the recipe's ``keypoint_parts`` section.
KEYPOINT_RULE = "rule:keypoints"
#: Fusion weights of one head: a weighted average needs a positive total.
NOT_ALL_ZERO = Check(lambda v: sum(v) > 0, "weights that are not all 0")
#: Built-in recipe name -> file in ``partparse/recipes/`` (package data).
BUILTIN_RECIPES = {"pretrained-persons": "pretrained_persons.yaml", "syntps-zoo": "syntps_zoo.yaml"}


@dataclass
class ParseModels:
    """Trained work dirs per stage. ``person`` (and ``pose``) may be :data:`PRETRAINED_POSE` instead;
    ``parts`` may be :data:`KEYPOINT_RULE` (needs keypoints and ``parser.pose_guidance``).
    ``pose``/``parts`` may be ``null`` (no pose: switch ``box_refinement`` and ``pose_guidance`` off
    unless the persons come with keypoints; no parts: persons only); ``video`` lists the classifiers to
    fuse with ``fusion_weights`` ``{head: [w per model]}`` (heads not listed: equal weights; ``partparse fuse``
    finds them; ``action`` may have one more weight, the pose stream's, which then sets
    ``parser.pose_action_weight`` to its share). ``pose_stream``: a trained skeleton model (``task:
    skeleton``; needed by ``parser.part_states`` ``pose``/``fused``). ``class_prior``: a ground-truth
    folder of the training split (``gt_train``, the prior is fitted on it) or a JSON table
    ``{action: {coarse part: state}}``; ``null``: no prior."""

    person: str = ""
    pose: str | None = None
    parts: str | None = None
    video: list[str] = field(default_factory=list)
    fusion_weights: dict[str, Annotated[list[float], each(at_least(0)), NOT_ALL_ZERO]] = field(default_factory=dict)
    class_prior: str | None = None
    pose_stream: str | None = None


@dataclass
class VideoScoringOverrides:
    """Test-time settings that replace those of each video model's training recipe (``null``: keep)."""

    num_clips: Annotated[int | None, between(1, 1024)] = None
    crop: Annotated[str | None, one_of("center", "three")] = None
    crop_size: Annotated[int | None, between(8, MAX_SIDE)] = None
    batch_size: Annotated[int, between(1, 4096)] = 8


@dataclass
class ParseRecipe:
    task: str = "parse"
    name: str = "parse"
    models: ParseModels = field(default_factory=ParseModels)
    parser: ParserConfig = field(default_factory=ParserConfig)
    person: PersonDetectorConfig = field(default_factory=PersonDetectorConfig)
    pose: PoseEstimatorConfig = field(default_factory=PoseEstimatorConfig)
    parts: PartDetectorConfig = field(default_factory=PartDetectorConfig)
    video: VideoScoringOverrides = field(default_factory=VideoScoringOverrides)
    pretrained_persons: YoloPoseConfig = field(default_factory=YoloPoseConfig)
    keypoint_parts: KeypointPartsConfig = field(default_factory=KeypointPartsConfig)


def recipe_path(recipe: str | Path) -> Path:
    """The YAML file of a recipe given as a path or as a built-in name (:data:`BUILTIN_RECIPES`).

    An existing file wins; a name that is neither raises a one-line :class:`InputError` listing the
    built-in names.
    """
    path = Path(recipe)
    if path.is_file():
        return path
    if str(recipe) in BUILTIN_RECIPES:
        return Path(str(importlib.resources.files("partparse") / "recipes" / BUILTIN_RECIPES[str(recipe)]))
    known = ", ".join(BUILTIN_RECIPES)
    if path.suffix.lower() in (".yaml", ".yml") or len(path.parts) > 1:
        raise InputError(f"{recipe}: recipe not found (built-in recipe names: {known})")
    raise InputError(f"unknown recipe {str(recipe)!r}: no such file and no built-in recipe of that name "
                     f"(built-in: {known})")


def load_parse_recipe(recipe: str | Path, overrides: Iterable[str] = ()) -> ParseRecipe:
    """Read a parse recipe (a path or a built-in name) with ``a.b=value`` overrides; every error is an
    :class:`InputError` naming the file."""
    from partparse.config import load_recipe
    from partparse.io import short_repr

    path = recipe_path(recipe)
    cfg = load_recipe(path, ParseRecipe, overrides)  # checks the task too: 'parse'
    for field_name, device in (("parser.device", cfg.parser.device),
                               ("pretrained_persons.device", cfg.pretrained_persons.device)):
        if not is_device_name(device):
            raise InputError(f"{path}.{field_name}: must be auto, cpu, mps, cuda or cuda:N, got {short_repr(device)}")
    return cfg


def is_device_name(name: str) -> bool:
    """Whether ``name`` is a device a recipe may name: ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N``."""
    return re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]{1,3})?", name) is not None


def resolve_device(name: str) -> torch.device:
    if not is_device_name(name):
        raise InputError(f"parser.device={name!r}: must be auto, cpu, mps, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"parser.device={name!r} but CUDA is not available")
    return torch.device(name)


def load_class_prior(path: str | Path) -> ClassPriorPartStates:
    """A class prior from a GT folder (fitted), from a JSON table ``{action: {coarse: state}}``, or from
    a model-zoo entry holding such a table (``zoo:syntps/class-prior``)."""
    from partparse.data.tps_format import read_result_files

    if is_zoo_name(path):
        folder = resolve_zoo(str(path))
        path = next(iter(sorted(folder.glob("*.json"))), folder / "class_prior.json")
    path = Path(path)
    if path.is_dir():                       # (a GT folder, checked as every GT reader checks it)
        return ClassPriorPartStates.fit(*read_result_files(path, submission=False))
    table = read_json(path)
    if not isinstance(table, dict) or not all(isinstance(v, dict) and all(isinstance(s, str) for s in v.values())
                                              for v in table.values()):
        raise InputError(f"{path}: a class prior is {{action: {{coarse part: state}}}}")
    return ClassPriorPartStates(table)


def video_class_names(path: str) -> dict[str, list[str]]:
    """``label_spaces.json`` of a trained video work dir: ``{head: class names}`` (:func:`load_trained`
    returns them with the model; this reads them alone)."""
    from partparse.data.part_labels import read_label_spaces
    from partparse.engine.checkpoint import checkpoint_of
    from partparse.run_layout import RunLayout

    return read_label_spaces(RunLayout(checkpoint_of(path)[0]).label_spaces)


def load_trained(path: str, task: str, device: torch.device):
    """:func:`partparse.engine.trained_models.load_trained` of a work dir trained for ``task``, the model in
    eval mode on ``device``: ``(model, recipe, class names)``."""
    from partparse.engine.trained_models import load_trained as load

    trained = load(path)
    found = getattr(trained.recipe, "task", task)
    if found != task:
        raise InputError(f"{path}: a {found!r} model, expected a {task!r} model here")
    return trained._replace(model=trained.model.to(device).eval())


def load_trained_model(path: str, task: str, device: torch.device):
    """``(model in eval mode on device, its training recipe)`` of a work dir trained for ``task``."""
    return load_trained(path, task, device)[:2]


def load_person_detector(path: str, cfg: PersonDetectorConfig, device: torch.device) -> YOLOFPersonDetector:
    model, det_recipe = load_trained_model(path, "detection", device)
    if cfg.person_label is None:
        names = list(det_recipe.model.class_names)
        if "person" not in names:
            raise InputError(f"{path}: no class 'person' among {names} (set person.person_label)")
        cfg = replace(cfg, person_label=names.index("person"))
    return YOLOFPersonDetector(model, cfg)


def load_pose_estimator(path: str, cfg: PoseEstimatorConfig, device: torch.device) -> HRNetPoseEstimator:
    model, pose_recipe = load_trained_model(path, "pose", device)
    if cfg.padding is None:
        cfg = replace(cfg, padding=pose_recipe.input.padding)
    return HRNetPoseEstimator(model, cfg)


def load_part_detector(path: str, cfg: PartDetectorConfig, pose_guidance: bool,
                       device: torch.device) -> YOLOFPartDetector:
    model, det_recipe = load_trained_model(path, "detection", device)
    if det_recipe.data.pose_guidance != pose_guidance:
        # a legitimate probe (a dot-trained detector without dots), but usually a recipe mix-up
        warnings.warn(f"{path}: part detector trained with pose_guidance={det_recipe.data.pose_guidance}, "
                      f"parsing with parser.pose_guidance={pose_guidance}", stacklevel=2)
    if cfg.part_names is None:
        cfg = replace(cfg, part_names=tuple(det_recipe.model.class_names))
    return YOLOFPartDetector(model, cfg)


def build_yolo_pose(cfg: YoloPoseConfig, device: torch.device) -> YoloPosePersons:
    """YOLO11n-pose; ``device: auto`` follows the parser's device."""
    if cfg.device == "auto":
        cfg = replace(cfg, device=str(device))
    return YoloPosePersons(cfg)


def _pretrained_name(value: str, where: str) -> bool:
    """Whether a ``models`` entry names a pretrained model (and a known one)."""
    if not value.startswith("pretrained:"):
        return False
    if value != PRETRAINED_POSE:
        raise InputError(f"{where}: unknown pretrained model {value!r} (known: {PRETRAINED_POSE})")
    return True


def build_parser(recipe: ParseRecipe) -> PartParser:
    """Load every model the recipe names and assemble the parser."""
    from partparse.pipeline.video_scorers import FusedVideoScorer

    m = recipe.models
    if not m.person:
        raise InputError("the parse recipe names no person detector (models.person)")
    device = resolve_device(recipe.parser.device)
    person_is_yolo = _pretrained_name(m.person, "models.person")
    pose_is_yolo = bool(m.pose) and _pretrained_name(m.pose, "models.pose")
    if m.parts and m.parts.startswith("rule:") and m.parts != KEYPOINT_RULE:
        raise InputError(f"models.parts: unknown rule {m.parts!r} (known: {KEYPOINT_RULE})")
    if m.parts == KEYPOINT_RULE:
        if not recipe.parser.pose_guidance:
            raise InputError(f"models.parts: {KEYPOINT_RULE} draws parts from the keypoints the parser hands "
                             "the part stage: set parser.pose_guidance: true")
        if not (person_is_yolo or m.pose):
            raise InputError(f"models.parts: {KEYPOINT_RULE} needs keypoints: models.person {PRETRAINED_POSE} "
                             "or a models.pose")
    fusion_weights, parser_cfg = dict(m.fusion_weights), recipe.parser
    pose_weights = fusion_weights.get("action", [])
    if m.pose_stream and m.video and len(pose_weights) == len(m.video) + 1:   # CSNs..., pose stream
        parser_cfg = replace(parser_cfg, pose_action_weight=pose_weights[-1] / sum(pose_weights))
        if len(m.video) > 1:
            fusion_weights["action"] = list(pose_weights[:-1]) if sum(pose_weights[:-1]) > 0 else [1.0] * len(m.video)
        else:
            del fusion_weights["action"]
    if fusion_weights and len(m.video) < 2:
        raise InputError("models.fusion_weights needs two or more models.video (or action weights for "
                         "models.video and models.pose_stream)")
    for head, weights in fusion_weights.items():
        if len(weights) != len(m.video):
            extra = " (action: one more for models.pose_stream)" if head == "action" and m.pose_stream else ""
            raise InputError(f"models.fusion_weights.{head}: {len(weights)} weights for {len(m.video)} models.video"
                             + extra)
    if parser_cfg.part_states in ("pose", "fused") and not m.pose_stream:
        raise InputError(f"parser.part_states={parser_cfg.part_states}: needs models.pose_stream (a skeleton model)")
    if (parser_cfg.box_refinement or parser_cfg.pose_guidance) and not (m.pose or person_is_yolo):
        raise InputError("parser.box_refinement and parser.pose_guidance need keypoints: give models.pose (or a "
                         "person model with keypoints), or set both false")
    yolo = build_yolo_pose(recipe.pretrained_persons, device) if person_is_yolo or pose_is_yolo else None
    person = yolo if person_is_yolo else load_person_detector(m.person, recipe.person, device)
    pose = yolo if pose_is_yolo else (load_pose_estimator(m.pose, recipe.pose, device) if m.pose else None)
    if m.parts == KEYPOINT_RULE:
        parts = KeypointPartDetector(recipe.keypoint_parts)
    else:
        parts = load_part_detector(m.parts, recipe.parts, recipe.parser.pose_guidance, device) if m.parts else None
    scorers = [load_video_scorer(path, recipe.video, device) for path in m.video]
    fused = [FusedVideoScorer(scorers, fusion_weights)] if len(scorers) > 1 else scorers
    prior = load_class_prior(m.class_prior) if m.class_prior else None
    pose_stream = load_pose_stream(m.pose_stream, device) if m.pose_stream else None
    if pose_stream is not None and not (pose or person_is_yolo):
        raise InputError("models.pose_stream reads keypoints: give models.pose (or a person model with keypoints)")
    return PartParser(parser_cfg, person, pose, parts, fused, prior, pose_stream)


def load_video_scorer(path: str, overrides: VideoScoringOverrides, device: torch.device):
    """A trained video model (work dir or zoo entry) as a scorer: its training recipe's test clips, with
    the parse recipe's ``video`` overrides."""
    from partparse.pipeline.video_scorers import CSNVideoScorer, VideoScorerConfig

    model, video_recipe, class_names = load_trained(path, "video", device)
    cfg = VideoScorerConfig.from_clip_config(video_recipe.clips, num_clips=overrides.num_clips, crop=overrides.crop,
                                             crop_size=overrides.crop_size, batch_size=overrides.batch_size)
    return CSNVideoScorer(model, class_names, cfg)


def load_pose_stream(path: str, device: torch.device):
    """The skeleton model of a work dir or zoo entry, with its class names, as the parser's pose stream."""
    from partparse.pipeline.pose_stream import PoseStream

    model, _, class_names = load_trained(path, "skeleton", device)
    return PoseStream(model, class_names)
