"""``partparse train``: train the model a recipe describes; its ``task:`` picks the trainer.

``video``: CSN classifiers (action / part states); ``detection``: YOLOF (persons, or parts on person
crops); ``pose``: top-down HRNet. The spatial tasks end with their COCO metrics on the validation split
in ``coco_metrics.json`` and a table.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.config import short_repr
from partparse.io import InputError, read_json, write_json

TASKS = ("video", "detection", "pose", "skeleton")


def _task_of(recipe: Path) -> str:
    from partparse.config import read_recipe_dict

    return str(read_recipe_dict(recipe).get("task", "video"))


def train(
    recipe: Annotated[Path, typer.Option(help="YAML recipe (configs/...).")],
    resume: Annotated[bool, typer.Option(help="Continue from latest.pth in the recipe's work_dir.")] = False,
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set optim.lr=0.01")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    force: Annotated[bool, typer.Option(help="Start again in a work_dir that holds a run (its run files are "
                                              "removed first).")] = False,
) -> None:
    """Train a model from a recipe; checkpoints, metrics.jsonl and validation scores go to train.work_dir.

    A work_dir that already holds a run is refused unless ``--resume`` (continue it) or ``--force``
    (start again). Everything is checked before anything is written into the work dir: the recipe's
    values, the work dir, and with ``--resume`` that the checkpoint fits the recipe's model.
    Bad input raises :class:`InputError` (the CLI prints it as one line, exit 2).

    Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m partparse.cli train --recipe R``.
    """
    # torch and the models are imported here, not at module level: `partparse evaluate` stays light
    from partparse.config import load_recipe
    from partparse.engine.distributed import cleanup, init_distributed
    from partparse.engine.trained_models import recipe_class
    from partparse.engine.trainer import seed_everything
    from partparse.engine.work_dir import check_work_dir

    task = _task_of(recipe)
    if task not in TASKS:
        raise InputError(f"{recipe}: task {short_repr(task)} has no trainer (known: {', '.join(TASKS)})")
    if resume and force:
        raise InputError("--resume continues a run and --force starts it again: give one of them")
    cfg = load_recipe(recipe, recipe_class(task), overrides or [])
    info = init_distributed()
    work = Path(cfg.train.work_dir)
    if info.is_main:
        check_work_dir(work, resume=resume, force=force)
    # seeded before the datasets and the model are built: one seed, one initial model and data order
    seed_everything(cfg.train.seed)
    if task == "video":
        _train_video(cfg, info, work, resume, force, progress)
    elif task == "skeleton":
        _train_skeleton(cfg, info, work, resume, force, progress)
    else:
        _train_spatial(cfg, task, info, work, resume, force, progress)
    cleanup(info)


def _begin(trainer, cfg, info, work: Path, resume: bool, force: bool, files: dict[str, object]) -> None:
    """Continue from the work dir's checkpoint (``resume``), then write the run's files.

    Nothing is written before the checkpoint is known to fit the recipe: a mismatched ``--resume`` into
    a finished run leaves it as it was. ``force`` removes the old run's files first."""
    from partparse.config import read_recipe_dict, save_recipe
    from partparse.engine.work_dir import clear_run

    if resume:
        saved = work / "recipe.yaml"
        if saved.is_file() and (found := read_recipe_dict(saved).get("task", "video")) != cfg.task:
            raise InputError(f"{saved}: the run in {work} is a {short_repr(found)} run, this recipe is a "
                             f"{cfg.task!r} one")
        for name, obj in files.items():  # e.g. the classes of the heads: same count, other names
            if (work / name).is_file() and read_json(work / name) != obj:
                raise InputError(f"{work / name}: differs from this recipe's ({name}): not the run to resume")
        trainer.resume()
    if info.is_main:
        if force:
            clear_run(work)
        save_recipe(cfg, work / "recipe.yaml")
        for name, obj in files.items():
            write_json(work / name, obj, indent=1)


def _train_video(cfg, info, work: Path, resume: bool, force: bool, progress: bool) -> None:
    from partparse.engine.trainer import Trainer
    from partparse.engine.video_task import (
        build_video_datasets, build_video_model, predict_video_scores, video_eval, video_step,
    )
    from partparse.pipeline.score_fusion import save_scores

    train_set, val_set, spaces = build_video_datasets(cfg)
    model = build_video_model(cfg, spaces)
    trainer = Trainer(model, train_set, video_step, cfg.train, cfg.optim, cfg.schedule, val_set=val_set,
                      eval_fn=video_eval, dist_info=info, progress=progress)
    labels = {h: s.to_list() for h, s in spaces.items()}
    _begin(trainer, cfg, info, work, resume, force, {"label_spaces.json": labels})
    history = trainer.fit()
    if info.is_main and trainer.val_loader is not None:
        ids, scores, labels = predict_video_scores(trainer.model, trainer.val_loader, info.device)
        save_scores(work / "val_scores.npz", ids, scores, labels)
        _report(history, work)


def _train_skeleton(cfg, info, work: Path, resume: bool, force: bool, progress: bool) -> None:
    from partparse.data.skeleton_dataset import skeleton_collate
    from partparse.engine.skeleton_task import (
        LABEL_FILE, build_skeleton_datasets, build_skeleton_model, make_skeleton_step, skeleton_eval,
        video_action_scores,
    )
    from partparse.pipeline.score_fusion import save_scores
    from partparse.engine.trainer import Trainer

    train_set, val_set, labels = build_skeleton_datasets(cfg)
    trainer = Trainer(build_skeleton_model(cfg, labels), train_set, make_skeleton_step(cfg), cfg.train, cfg.optim,
                      cfg.schedule, val_set=val_set, eval_fn=skeleton_eval if val_set is not None else None,
                      collate_fn=skeleton_collate, dist_info=info, progress=progress)
    _begin(trainer, cfg, info, work, resume, force, {LABEL_FILE: labels.to_dict()})
    t0 = time.perf_counter()
    history = trainer.fit()
    if info.is_main:
        write_json(work / "train_seconds.json", {"train_seconds": round(time.perf_counter() - t0, 1)})
        if val_set is not None:  # the pose stream's file for partparse fuse (corrupted keypoints: as parsed)
            ids, scores, truth = video_action_scores(trainer.model, val_set.tracks, labels, cfg.augment,
                                                     cfg.train.seed, device=info.device)
            save_scores(work / "val_scores.npz", ids, {"action": scores}, {"action": truth})
        _report(history, work)


def _spatial_parts(cfg, task: str):
    """``(model, train_set, val_set, step_fn, eval_fn, collate_fn)`` of a detection or pose recipe."""
    if task == "detection":
        from partparse.data.coco_detection import detection_collate
        from partparse.engine.detection_task import (
            build_detection_datasets, build_detection_model, detection_eval, detection_step,
        )

        train_set, val_set = build_detection_datasets(cfg)
        return build_detection_model(cfg), train_set, val_set, detection_step, detection_eval, detection_collate
    from partparse.engine.pose_task import build_pose_datasets, build_pose_model, make_pose_eval, pose_collate, pose_step

    train_set, val_set = build_pose_datasets(cfg)
    return build_pose_model(cfg), train_set, val_set, pose_step, make_pose_eval(cfg), pose_collate


def _train_spatial(cfg, task: str, info, work: Path, resume: bool, force: bool, progress: bool) -> None:
    import torch

    from partparse.engine.trainer import Trainer

    model, train_set, val_set, step_fn, eval_fn, collate_fn = _spatial_parts(cfg, task)
    eval_seconds: list[float] = []

    def timed_eval(model, loader, device):
        t = time.perf_counter()
        out = eval_fn(model, loader, device)
        eval_seconds.append(time.perf_counter() - t)
        return out

    trainer = Trainer(model, train_set, step_fn, cfg.train, cfg.optim, cfg.schedule, val_set=val_set,
                      eval_fn=timed_eval, collate_fn=collate_fn, dist_info=info, progress=progress)
    _begin(trainer, cfg, info, work, resume, force, {})
    t0 = time.perf_counter()
    history = trainer.fit()
    train_s = time.perf_counter() - t0 - sum(eval_seconds)
    if info.is_main:
        if not (history and cfg.schedule.epochs % cfg.train.val_interval == 0):  # last epoch not validated
            trainer.model.eval()
            with torch.no_grad():
                history.append(timed_eval(trainer.model, trainer.val_loader, info.device))
        metrics = history[-1]
        result = {"task": task, "recipe": cfg.name, "epochs": cfg.schedule.epochs, "metrics": metrics,
                  "train_seconds": round(train_s, 1), "eval_seconds": round(eval_seconds[-1], 1),
                  "monitor": cfg.train.monitor, "best": trainer.best if math.isfinite(trainer.best) else None}
        write_json(work / "coco_metrics.json", result, indent=1)
        _coco_table(task, metrics, work, train_s)


def _coco_table(task: str, metrics: dict[str, float], work: Path, train_s: float) -> None:
    kind = "box" if task == "detection" else "keypoint (OKS)"
    table = Table(title=f"COCO {kind} metrics on the validation split ({escape(str(work))}; "
                        f"trained in {train_s / 60:.1f} min)")
    overall = {k: v for k, v in metrics.items() if "/" not in k}
    classes = sorted({k.split("/", 1)[1] for k in metrics if k.startswith("AP/")})
    table.add_column("class" if classes else "", style="bold")
    for name in overall:
        table.add_column(name, justify="right")
    table.add_row("all", *[f"{100 * v:.1f}" for v in overall.values()])
    for c in classes:
        table.add_row(c, *[f"{100 * metrics[f'{n}/{c}']:.1f}" if f"{n}/{c}" in metrics else "" for n in overall])
    Console().print(table)


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
    write_json(work / "val_history.json", history, indent=1)
