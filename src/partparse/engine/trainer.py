"""One training engine for every model of partparse (CSN classifiers, YOLOF detectors, HRNet pose).

A task plugs in with two functions: ``step_fn(model, batch, device) -> {loss_name: tensor}`` (summed
for the backward pass) and ``eval_fn(model, loader, device) -> {metric: float}``. The engine owns the
rest: DDP under ``torchrun`` (DistributedSampler, gloo on CPU / NCCL on GPU), SGD + warm-up + step
decay per iteration, gradient clipping, mixed precision on GPU, a checkpoint every epoch (atomic) and
``resume``, metrics to ``metrics.jsonl`` and a rich progress bar.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from partparse.engine.checkpoint import CheckpointManager, rng_state, set_rng_state
from partparse.engine.distributed import DistInfo, all_reduce_mean, barrier, init_distributed, make_sampler
from partparse.engine.logging import JsonlLogger
from partparse.engine.optim import OptimConfig, ScheduleConfig, build_optimizer, build_scheduler
from partparse.engine.train_config import TrainConfig
from partparse.io import InputError
from partparse.run_layout import RunLayout

StepFn = Callable[[nn.Module, Any, torch.device], dict[str, torch.Tensor]]
EvalFn = Callable[[nn.Module, DataLoader, torch.device], dict[str, float]]


class TrainingDiverged(InputError):
    """The loss became NaN or infinite: the run stops (a recipe problem: lr, data, precision)."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or mode == "off":
        return None
    if mode == "fp16":
        return torch.float16
    if mode in ("bf16", "auto"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    raise ValueError(f"amp must be auto, off, bf16 or fp16, got {mode!r}")


class Trainer:
    """Train ``model`` on ``train_set`` with ``step_fn``; validate with ``eval_fn`` on ``val_set``."""

    def __init__(self, model: nn.Module, train_set: Dataset, step_fn: StepFn, cfg: TrainConfig,
                 optim: OptimConfig, schedule: ScheduleConfig, val_set: Dataset | None = None,
                 eval_fn: EvalFn | None = None, collate_fn: Callable | None = None,
                 dist_info: DistInfo | None = None, progress: bool = True):
        self.cfg, self.optim_cfg, self.schedule_cfg = cfg, optim, schedule
        self.info = dist_info or init_distributed()
        self.step_fn, self.eval_fn = step_fn, eval_fn
        self.progress = progress and self.info.is_main
        seed_everything(cfg.seed + self.info.rank)
        self.model = model.to(self.info.device)
        self.sampler = make_sampler(train_set, shuffle=True, info=self.info, seed=cfg.seed)
        self.loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=self.sampler,
                                 num_workers=cfg.num_workers, collate_fn=collate_fn,
                                 pin_memory=self.info.device.type == "cuda",
                                 # workers live across epochs: no re-spawn per epoch, and a dataset's
                                 # in-memory caches (e.g. cache_frames) survive
                                 persistent_workers=cfg.num_workers > 0)
        self.val_loader = (DataLoader(val_set, batch_size=cfg.val_batch_size, shuffle=False,
                                      num_workers=cfg.num_workers, collate_fn=collate_fn,
                                      persistent_workers=cfg.num_workers > 0)
                           if val_set is not None and eval_fn is not None else None)
        n = len(self.loader)
        self.iters_per_epoch = min(n, cfg.max_iters_per_epoch) if cfg.max_iters_per_epoch else n
        if self.iters_per_epoch == 0:
            raise InputError("the training set is empty (check data.root and the training split)")
        self.optimizer = build_optimizer(self.model, optim)
        self.scheduler = build_scheduler(self.optimizer, self.iters_per_epoch, schedule)
        self.amp_dtype = _amp_dtype(cfg.amp, self.info.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.ddp = (DistributedDataParallel(self.model, device_ids=[self.info.device.index]
                                            if self.info.device.type == "cuda" else None,
                                            find_unused_parameters=cfg.find_unused_parameters)
                    if self.info.distributed else self.model)
        work = Path(cfg.work_dir)
        self.checkpoints = CheckpointManager(work, keep=cfg.keep_checkpoints)
        self.logger = JsonlLogger(RunLayout(work).metrics, enabled=self.info.is_main)
        self.epoch, self.iteration, self.best = 0, 0, -math.inf
        self.resumed = False

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "iteration": self.iteration, "best": self.best, "rng": rng_state()}

    def resume(self, path: str | Path | None = None) -> bool:
        """Continue from ``latest.pth`` of the work dir (or ``path``); False if there is none.

        The checkpoint is read weights-only; one that does not fit this trainer's model, optimiser or
        schedule (another recipe's) is an InputError, raised before anything is written. On success the
        resume is logged to ``metrics.jsonl``.
        """
        state = self.checkpoints.load(path)
        if state is None:
            return False
        where = Path(path) if path is not None else self.checkpoints.latest
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            epoch, iteration, best = int(state["epoch"]) + 1, int(state["iteration"]), float(state["best"])
            set_rng_state(state["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
            detail = " ".join(str(err).split())[:200]
            raise InputError(f"{where}: does not match this recipe's model or optimiser, or is incomplete "
                             f"({type(err).__name__}: {detail})") from None
        self.epoch, self.iteration, self.best = epoch, iteration, best
        self.resumed = True
        if self.info.is_main:
            self.logger.log(event="resume", epoch=self.epoch, iteration=self.iteration)
        return True

    # ------------------------------------------------------------------------------------------- loop
    def fit(self, resume: bool = False) -> list[dict[str, float]]:
        """Train to ``schedule.epochs``; returns the validation metrics of each validated epoch.

        ``resume``: first continue from ``latest.pth`` (unless :meth:`resume` already did)."""
        if resume and not self.resumed:
            self.resume()
        history = []
        with self._progress() as bar:
            for epoch in range(self.epoch, self.schedule_cfg.epochs):
                self.epoch = epoch
                self._train_epoch(bar)
                metrics = self._validate() if (epoch + 1) % self.cfg.val_interval == 0 else {}
                if metrics:
                    history.append(metrics)
                    if self.cfg.monitor and self.cfg.monitor not in metrics:  # a typo would never save best.pth
                        raise InputError(f"train.monitor: {self.cfg.monitor!r} is not a validation metric "
                                         f"(known: {', '.join(sorted(metrics))})")
                improved = bool(self.cfg.monitor and metrics.get(self.cfg.monitor, -math.inf) > self.best)
                if improved:
                    self.best = metrics[self.cfg.monitor]
                if self.info.is_main:
                    self.checkpoints.save(self.state_dict(), epoch, best=improved)
                barrier(self.info)
        return history

    def _train_epoch(self, bar: Progress | None) -> None:
        self.sampler.set_epoch(self.epoch)
        self.ddp.train()
        task = bar.add_task(f"epoch {self.epoch + 1}/{self.schedule_cfg.epochs}", total=self.iters_per_epoch,
                            loss="") if bar is not None else None
        window: dict[str, float] = {}  # loss sums since the last log: a logged loss is the mean of its window
        steps = 0                      # (mmengine's log processor does the same; one batch's loss is noise)
        for i, batch in enumerate(self.loader):
            if i >= self.iters_per_epoch:
                break
            losses = self._step(batch)
            self.iteration += 1
            steps += 1
            for name, value in losses.items():
                window[name] = window.get(name, 0.0) + value
            if bar is not None:
                bar.update(task, advance=1, loss=f"loss {window['loss'] / steps:.4f}")
            if self.iteration % self.cfg.log_interval == 0 or i + 1 == self.iters_per_epoch:
                self.logger.log(event="train", epoch=self.epoch, iteration=self.iteration,
                                lr=self.optimizer.param_groups[0]["lr"],
                                **{name: total / steps for name, total in window.items()})
                window, steps = {}, 0

    def _step(self, batch: Any) -> dict[str, float]:
        with torch.autocast(self.info.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            losses = self.step_fn(self.ddp, batch, self.info.device)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"{self.cfg.work_dir}: training diverged: non-finite loss {loss.item()} at "
                                   f"epoch {self.epoch + 1}, iteration {self.iteration + 1} (lower optim.lr, "
                                   "set optim.grad_clip or check the data)")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.optim_cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.optim_cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        out = {k: all_reduce_mean(v.detach().float(), self.info).item() for k, v in losses.items()}
        out["loss"] = sum(out.values())
        return out

    def _validate(self) -> dict[str, float]:
        if self.val_loader is None or not self.info.is_main:
            return {}
        self.model.eval()
        with torch.no_grad():
            metrics = {k: float(v) for k, v in self.eval_fn(self.model, self.val_loader, self.info.device).items()}
        self.logger.log(event="val", epoch=self.epoch, iteration=self.iteration, **metrics)
        return metrics

    def _progress(self):
        if not self.progress:
            return _NullContext()
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[loss]}"), TimeRemainingColumn(), transient=False)


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
