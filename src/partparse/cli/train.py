"""``partparse train``: train the model a recipe describes; its ``task:`` picks the entry of the task
table (:data:`partparse.engine.tasks.TASKS`).

``video``: CSN classifiers (action / part states); ``detection``: YOLOF (persons, or parts on person
crops); ``pose``: top-down HRNet. Every task trains through the same flow; the task's ``report`` says what
ends the run: ``coco`` (the COCO metrics on the validation split in ``coco_metrics.json`` and a table) or
``top1`` (the validation scores in ``val_scores.npz``, ``val_history.json`` and a table).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.io import InputError, read_json, short_repr, write_json
from partparse.run_layout import RunLayout


def train(
    recipe: Annotated[Path, typer.Option(help="YAML recipe (configs/...).")],
    resume: Annotated[bool, typer.Option(help="Continue from latest.pth in the recipe's work_dir.")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a field: --set optim.lr=0.01")] = None,
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
    from partparse.engine.tasks import TASKS, task_of
    from partparse.engine.trainer import seed_everything
    from partparse.engine.work_dir import check_work_dir

    name = task_of(recipe)
    if name not in TASKS:
        raise InputError(f"{recipe}: task {short_repr(name)} has no trainer (known: {', '.join(TASKS)})")
    if resume and force:
        raise InputError("--resume continues a run and --force starts it again: give one of them")
    task = TASKS[name]
    cfg = load_recipe(recipe, task.recipe, overrides or [])
    info = init_distributed()
    work = Path(cfg.train.work_dir)
    if info.is_main:
        check_work_dir(work, resume=resume, force=force)
    # seeded before the datasets and the model are built: one seed, one initial model and data order
    seed_everything(cfg.train.seed)
    _train(task, cfg, info, work, resume, force, progress)
    cleanup(info)


def _begin(trainer, cfg, info, work: Path, resume: bool, force: bool, files: dict[Path, object]) -> None:
    """Continue from the work dir's checkpoint (``resume``), then write the run's files.

    Nothing is written before the checkpoint is known to fit the recipe: a mismatched ``--resume`` into
    a finished run leaves it as it was. ``force`` removes the old run's files first."""
    from partparse.config import read_recipe_dict, save_recipe
    from partparse.engine.work_dir import clear_run

    layout = RunLayout(work)
    if resume:
        saved = layout.recipe
        if saved.is_file() and (found := read_recipe_dict(saved).get("task", "video")) != cfg.task:
            raise InputError(f"{saved}: the run in {work} is a {short_repr(found)} run, this recipe is a "
                             f"{cfg.task!r} one")
        for path, obj in files.items():  # e.g. the classes of the heads: same count, other names
            if path.is_file() and read_json(path) != obj:
                raise InputError(f"{path}: differs from this recipe's ({path.name}): not the run to resume")
        trainer.resume()
    if info.is_main:
        if force:
            clear_run(work)
        save_recipe(cfg, layout.recipe)
        for path, obj in files.items():
            write_json(path, obj, indent=1)


def _train(task, cfg, info, work: Path, resume: bool, force: bool, progress: bool) -> None:
    """Build the task's datasets and model, train, and end with the task's report."""
    from partparse.engine.trainer import Trainer

    train_set, val_set, *spaces = task.datasets(cfg)
    class_names = None
    if task.heads_from_data:  # {head: class names} of the label spaces (video) or name lists (skeleton)
        class_names = {h: list(s) for h, s in spaces[0].items()}
    model = task.build_model(cfg, class_names)
    eval_fn = task.evaluation(cfg)
    eval_seconds: list[float] = []

    def timed_eval(model, loader, device):
        t = time.perf_counter()
        out = eval_fn(model, loader, device)
        eval_seconds.append(time.perf_counter() - t)
        return out

    step = task.step(cfg) if task.step_from_recipe else task.step
    trainer = Trainer(model, train_set, step, cfg.train, cfg.optim, cfg.schedule, val_set=val_set,
                      eval_fn=timed_eval, collate_fn=task.collate, dist_info=info, progress=progress)
    layout = RunLayout(work)
    _begin(trainer, cfg, info, work, resume, force, {layout.label_spaces: class_names} if class_names else {})
    t0 = time.perf_counter()
    history = trainer.fit()
    train_s = time.perf_counter() - t0 - sum(eval_seconds)
    if info.is_main:
        REPORTS[task.report](task, cfg, trainer, history, layout, info, timed_eval, eval_seconds, train_s)


def _report_top1(task, cfg, trainer, history, layout: RunLayout, info, timed_eval, eval_seconds, train_s) -> None:
    """A video run: the validation scores (``partparse fuse`` reads them) and the top-1 table."""
    from partparse.engine.video_task import predict_video_scores
    from partparse.pipeline.score_fusion import save_scores

    if trainer.val_loader is not None:
        ids, scores, labels = predict_video_scores(trainer.model, trainer.val_loader, info.device)
        save_scores(layout.val_scores, ids, scores, labels)
        _report(history, layout)


def _report_coco(task, cfg, trainer, history, layout: RunLayout, info, timed_eval, eval_seconds, train_s) -> None:
    """A spatial run: the last epoch validated, ``coco_metrics.json`` and the COCO table."""
    import torch

    if not (history and cfg.schedule.epochs % cfg.train.val_interval == 0):  # last epoch not validated
        trainer.model.eval()
        with torch.no_grad():
            history.append(timed_eval(trainer.model, trainer.val_loader, info.device))
    metrics = history[-1]
    result = {"task": task.name, "recipe": cfg.name, "epochs": cfg.schedule.epochs, "metrics": metrics,
              "train_seconds": round(train_s, 1), "eval_seconds": round(eval_seconds[-1], 1),
              "monitor": cfg.train.monitor, "best": trainer.best if math.isfinite(trainer.best) else None}
    write_json(layout.coco_metrics, result, indent=1)
    _coco_table(task.name, metrics, layout.root, train_s)


def _report_skeleton(task, cfg, trainer, history, layout: RunLayout, info, timed_eval, eval_seconds,
                     train_s) -> None:
    """A skeleton run: the pose stream's per-video action scores on val keypoints corrupted like predicted
    ones (``partparse fuse`` weighs it against the CSNs with them) and the validation table."""
    from partparse.data.skeleton_dataset import SkeletonLabels
    from partparse.engine.skeleton_task import video_action_scores
    from partparse.pipeline.score_fusion import save_scores

    val_set = trainer.val_loader.dataset if trainer.val_loader is not None else None
    if val_set is not None:
        labels = SkeletonLabels.from_dict(read_json(layout.label_spaces))
        ids, scores, truth = video_action_scores(trainer.model, val_set.tracks, labels, cfg.augment,
                                                 cfg.train.seed, device=info.device)
        save_scores(layout.val_scores, ids, {"action": scores}, {"action": truth})
    _report(history, layout)


#: ``Task.report`` -> what ends a run
REPORTS = {"top1": _report_top1, "coco": _report_coco, "skeleton": _report_skeleton}


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


def _report(history: list[dict], layout: RunLayout) -> None:
    if not history:
        return
    last = history[-1]
    table = Table(title=f"validation after training ({escape(str(layout.root))})")
    table.add_column("head")
    table.add_column("top-1 %", justify="right")
    for k, v in last.items():
        table.add_row(k.removeprefix("top1_"), f"{100 * v:.1f}")
    Console().print(table)
    write_json(layout.val_history, history, indent=1)
