"""Load a model trained by ``partparse train`` with the recipe it was trained with.

A run's work dir (:class:`partparse.run_layout.RunLayout`) holds ``recipe.yaml`` (what was really used,
overrides included) and the checkpoints (``best.pth`` when a validation metric was monitored,
``latest.pth`` always); a video model also has ``label_spaces.json`` (its class names). The recipe's
``task`` picks the entry of the task table (:data:`partparse.engine.tasks.TASKS`) that builds the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from torch import nn

from partparse.config import load_recipe
from partparse.data.part_labels import read_label_spaces
from partparse.engine.checkpoint import checkpoint_of, read_model_state
from partparse.engine.tasks import task_named, task_of
from partparse.io import InputError
from partparse.run_layout import RunLayout


class TrainedModel(NamedTuple):
    """A trained model in eval mode on the CPU, its recipe (the task's dataclass, with ``.task``), and
    ``{head: class names}`` of a video model (``label_spaces.json``; None for the other tasks)."""

    model: nn.Module
    recipe: Any
    class_names: dict[str, list[str]] | None


def load_trained(path: str | Path) -> TrainedModel:
    """The model of a training run, its recipe and (video) class names, each file read once.

    ``path``: a work dir (its ``recipe.yaml`` and ``best.pth``, else ``latest.pth``), a ``.pth`` file next
    to a ``recipe.yaml``, or ``zoo:<name>``. Every tensor of the model must be in the checkpoint: a
    partial load is an error.
    """
    work, checkpoint = checkpoint_of(path)
    layout = RunLayout(work)
    task = task_named(task_of(layout.recipe), layout.recipe)
    recipe = load_recipe(layout.recipe, task.recipe)
    class_names = read_label_spaces(layout.label_spaces) if task.heads_from_data else None
    model = task.build_model(recipe, class_names, load_pretrained=False)  # the checkpoint holds every weight
    state = read_model_state(checkpoint)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise InputError(f"{checkpoint}: does not match the model of {layout.recipe} "
                         f"({str(err).splitlines()[-1].strip()})") from None
    if result.missing_keys or result.unexpected_keys:
        first = (result.missing_keys or result.unexpected_keys)[0]
        raise InputError(f"{checkpoint}: does not match the model of {layout.recipe} ({len(result.missing_keys)} "
                         f"missing, {len(result.unexpected_keys)} unexpected tensors, e.g. {first!r})")
    return TrainedModel(model.eval(), recipe, class_names)
