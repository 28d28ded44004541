"""The task table: for each recipe ``task:``, its recipe class, model builder and training parts.

``partparse train`` and :func:`partparse.engine.trained_models.load_trained` read this table and
nothing else, so a new task is one :class:`Task` entry in :data:`TASKS`. The training parts (datasets,
step, evaluation, collate) are named by ``module:function`` and imported only when a run trains:
loading a trained model for ``partparse parse`` imports the recipe and the model, never a dataset or
the trainer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from partparse.config import read_recipe_dict
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.model_builders import (
    build_detection_model,
    build_pose_model,
    build_skeleton_model,
    build_video_model,
)
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.skeleton_recipe import SkeletonRecipe
from partparse.engine.video_recipe import VideoRecipe
from partparse.io import InputError, short_repr

#: a recipe without ``task:`` is a video recipe (the first task partparse had)
DEFAULT_TASK = "video"


@dataclass(frozen=True)
class Ref:
    """A module-level function named ``module:name``, imported on first call (picklable, so it can be a
    ``DataLoader``'s ``collate_fn`` in worker processes)."""

    target: str

    def resolve(self) -> Callable:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class Task:
    """What ``partparse train`` and ``load_trained`` need of a task.

    ``build_model(recipe, class_names, load_pretrained)``: the model (``class_names``: ``{head: names}``
    of the run's ``label_spaces.json``, for tasks whose heads come from the data). ``datasets(recipe)``:
    ``(train, val)``, or with ``heads_from_data`` ``(train, val, label spaces)`` (the run keeps them in
    ``label_spaces.json``, which ``build_model`` gets back as ``class_names``).
    ``step(model, batch, device)``: the losses. With ``step_from_recipe``, ``step(recipe)`` returns that
    function.
    ``evaluation(recipe)``: the validation function ``(model, loader, device) -> metrics``. ``collate``:
    the loaders' ``collate_fn`` (None: PyTorch's default). ``report``: what ``partparse train`` writes and
    shows after training (``coco``: ``coco_metrics.json`` and a table; ``top1``: ``val_scores.npz``,
    ``val_history.json`` and a table; ``skeleton``: the pose stream's per-video action scores on corrupted
    val keypoints in ``val_scores.npz``, ``val_history.json`` and a table).
    """

    name: str
    recipe: type
    build_model: Callable[[Any, Mapping[str, Sequence[str]] | None, bool], nn.Module]
    datasets: Callable[[Any], tuple]
    step: Callable
    evaluation: Callable[[Any], Callable]
    collate: Callable | None
    report: str
    heads_from_data: bool = False
    step_from_recipe: bool = False   # ``step(recipe)`` returns the step function (its loss weights are fields)


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("video", VideoRecipe, build_video_model,
         datasets=Ref("partparse.engine.video_task:build_video_datasets"),
         step=Ref("partparse.engine.video_task:video_step"),
         evaluation=Ref("partparse.engine.video_task:make_video_eval"),
         collate=None, report="top1", heads_from_data=True),
    Task("detection", DetectionRecipe, build_detection_model,
         datasets=Ref("partparse.engine.detection_task:build_detection_datasets"),
         step=Ref("partparse.engine.detection_task:detection_step"),
         evaluation=Ref("partparse.engine.detection_task:make_detection_eval"),
         collate=Ref("partparse.data.coco_detection:detection_collate"), report="coco"),
    Task("pose", PoseRecipe, build_pose_model,
         datasets=Ref("partparse.engine.pose_task:build_pose_datasets"),
         step=Ref("partparse.engine.pose_task:pose_step"),
         evaluation=Ref("partparse.engine.pose_task:make_pose_eval"),
         collate=Ref("partparse.engine.pose_task:pose_collate"), report="coco"),
    Task("skeleton", SkeletonRecipe, build_skeleton_model,
         datasets=Ref("partparse.engine.skeleton_task:build_skeleton_task_datasets"),
         step=Ref("partparse.engine.skeleton_task:make_skeleton_step"),
         evaluation=Ref("partparse.engine.skeleton_task:skeleton_evaluation"),
         collate=Ref("partparse.data.skeleton_dataset:skeleton_collate"), report="skeleton",
         heads_from_data=True, step_from_recipe=True),
)}


def task_named(name: str, where: str | Path | None = None) -> Task:
    """The table's entry for ``name``; an unknown task is an :class:`InputError` naming ``where``."""
    if name not in TASKS:
        prefix = f"{where}: " if where is not None else ""
        raise InputError(f"{prefix}unknown task {short_repr(name)} (known: {', '.join(TASKS)})")
    return TASKS[name]


def task_of(recipe_file: str | Path) -> str:
    """The ``task:`` of a recipe file (``video`` when it names none), read without building the recipe."""
    return str(read_recipe_dict(recipe_file).get("task", DEFAULT_TASK))


def recipe_class(task: str) -> type:
    """The recipe dataclass of a ``task:`` (``detection``, ``pose``, ``video`` or ``skeleton``)."""
    return task_named(task).recipe
