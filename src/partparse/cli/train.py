"""``partparse train``: train the model a recipe describes (``task: video`` today: CSN classifiers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.io import InputError, write_json


def _task_of(recipe: Path) -> str:
    from partparse.config import read_recipe_dict

    return str(read_recipe_dict(recipe).get("task", "video"))


def train(
    recipe: Annotated[Path, typer.Option(help="YAML recipe (configs/...).")],
    resume: Annotated[bool, typer.Option(help="Continue from latest.pth in the recipe's work_dir.")] = False,
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set optim.lr=0.01")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a model from a recipe; checkpoints, metrics.jsonl and validation scores go to train.work_dir.

    Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m partparse.cli train --recipe R``.
    """
    # torch and the models are imported here, not at module level: `partparse evaluate` stays light
    from partparse.config import load_recipe, save_recipe
    from partparse.engine.distributed import cleanup, init_distributed
    from partparse.engine.trainer import Trainer
    from partparse.engine.video_recipe import VideoRecipe
    from partparse.engine.video_task import (
        build_video_datasets, build_video_model, predict_video_scores, video_eval, video_step,
    )
    from partparse.pipeline.score_fusion import save_scores

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        task = _task_of(recipe)
        if task != "video":
            raise InputError(f"{recipe}: task {task!r} has no trainer yet (known: video)")
        cfg = load_recipe(recipe, VideoRecipe, overrides or [])
        info = init_distributed()
        train_set, val_set, spaces = build_video_datasets(cfg)
        model = build_video_model(cfg, spaces)
        work = Path(cfg.train.work_dir)
        if info.is_main:
            save_recipe(cfg, work / "recipe.yaml")
            write_json(work / "label_spaces.json", {h: s.to_list() for h, s in spaces.items()}, indent=1)
        trainer = Trainer(model, train_set, video_step, cfg.train, cfg.optim, cfg.schedule, val_set=val_set,
                          eval_fn=video_eval, dist_info=info, progress=progress)
        history = trainer.fit(resume=resume)
        if info.is_main and trainer.val_loader is not None:
            ids, scores, labels = predict_video_scores(trainer.model, trainer.val_loader, info.device)
            save_scores(work / "val_scores.npz", ids, scores, labels)
            _report(history, work)
        cleanup(info)
    except InputError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}")
        raise typer.Exit(2)


def _report(history: list[dict], work: Path) -> None:
    if not history:
        return
    last = history[-1]
    table = Table(title=f"validation after training ({escape(str(work))})")
    table.add_column("head")
    table.add_column("top-1 %", justify="right")
    for k, v in last.items():
        table.add_row(k.removeprefix("top1_"), f"{100 * v:.1f}")
    Console().print(table)
    (work / "val_history.json").write_text(json.dumps(history, indent=1))
