"""Load a model trained by ``partparse train`` with the recipe it was trained with.

A run's work dir holds ``recipe.yaml`` (what was really used, overrides included) and the checkpoints
(``best.pth`` when a validation metric was monitored, ``latest.pth`` always); a video model also has
``label_spaces.json`` (its class names). The recipe's ``task`` says which model to build.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from partparse.config import load_recipe, read_recipe_dict, short_repr
from partparse.io import InputError, read_json
from partparse.model_zoo import is_zoo_name
from partparse.model_zoo import resolve as resolve_zoo
from partparse.models.weights import load_torch_file

TASKS = ("detection", "pose", "video", "skeleton")


def recipe_class(task: str) -> type:
    """The recipe dataclass of a ``task:`` (``detection``, ``pose`` or ``video``)."""
    if task == "detection":
        from partparse.engine.detection_recipe import DetectionRecipe

        return DetectionRecipe
    if task == "pose":
        from partparse.engine.pose_recipe import PoseRecipe

        return PoseRecipe
    if task == "video":
        from partparse.engine.video_recipe import VideoRecipe

        return VideoRecipe
    if task == "skeleton":
        from partparse.engine.skeleton_recipe import SkeletonRecipe

        return SkeletonRecipe
    raise InputError(f"unknown task {short_repr(task)} (known: {', '.join(TASKS)})")


def checkpoint_of(path: str | Path) -> tuple[Path, Path]:
    """``(work dir, checkpoint file)`` of a work dir (``best.pth``, else ``latest.pth``), of a ``.pth``, or
    of a model-zoo name ``zoo:<name>`` (its files checked against the manifest's sha256 first)."""
    if is_zoo_name(path):
        path = resolve_zoo(str(path))
    path = Path(path)
    if path.is_dir():
        for name in ("best.pth", "latest.pth"):
            if (path / name).is_file():
                return path, path / name
        raise InputError(f"{path}: no best.pth or latest.pth (not a finished training run?)")
    if path.suffix == ".pth":
        if not path.is_file():
            raise InputError(f"{path}: checkpoint not found")
        return path.parent, path
    raise InputError(f"{path}: expected a training work dir or a .pth checkpoint")


def read_model_state(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The model tensors of a ``partparse train`` checkpoint, read weights-only (it cannot run code)."""
    state = load_torch_file(checkpoint, untrusted_hint=" (refused: unpickling them could run code)",
                            unreadable="not a readable partparse checkpoint")
    model = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise InputError(f"{checkpoint}: holds no model state dict")
    return model


def _build(task: str, recipe_file: Path, work: Path) -> tuple[nn.Module, Any]:
    recipe = load_recipe(recipe_file, recipe_class(task))
    if task == "detection":
        from partparse.engine.detection_task import build_detection_model

        return build_detection_model(recipe, load_pretrained=False), recipe
    if task == "pose":
        from partparse.engine.pose_task import build_pose_model

        return build_pose_model(recipe, load_pretrained=False), recipe
    if task == "skeleton":
        from partparse.data.skeleton_dataset import SkeletonLabels
        from partparse.engine.skeleton_task import build_skeleton_model

        return build_skeleton_model(recipe, SkeletonLabels.from_dict(read_json(work / "label_spaces.json"))), recipe
    from partparse.data.part_labels import LabelSpace, read_label_spaces
    from partparse.engine.video_task import build_video_model

    spaces = {h: LabelSpace(names) for h, names in read_label_spaces(work / "label_spaces.json").items()}
    # the checkpoint holds every weight: do not read the recipe's pretrained file
    untrained = replace(recipe, model=replace(recipe.model, pretrained=None))
    return build_video_model(untrained, spaces), recipe


def load_trained(path: str | Path) -> tuple[nn.Module, Any]:
    """``(model in eval mode on the CPU, recipe)`` of a training run.

    ``path``: a work dir (its ``recipe.yaml`` and ``best.pth``, else ``latest.pth``) or a ``.pth`` file next
    to a ``recipe.yaml``. The recipe is the task's dataclass (``DetectionRecipe``, ``PoseRecipe`` or
    ``VideoRecipe``, with ``.task``); a video model's heads come from ``label_spaces.json``. Every tensor
    of the model must be in the checkpoint: a partial load is an error.
    """
    work, checkpoint = checkpoint_of(path)
    recipe_file = work / "recipe.yaml"
    task = str(read_recipe_dict(recipe_file).get("task", "video"))
    if task not in TASKS:
        raise InputError(f"{recipe_file}: unknown task {short_repr(task)} (known: {', '.join(TASKS)})")
    model, recipe = _build(task, recipe_file, work)
    state = read_model_state(checkpoint)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise InputError(f"{checkpoint}: does not match the model of {recipe_file} "
                         f"({str(err).splitlines()[-1].strip()})") from None
    if result.missing_keys or result.unexpected_keys:
        first = (result.missing_keys or result.unexpected_keys)[0]
        raise InputError(f"{checkpoint}: does not match the model of {recipe_file} ({len(result.missing_keys)} "
                         f"missing, {len(result.unexpected_keys)} unexpected tensors, e.g. {first!r})")
    return model.eval(), recipe
