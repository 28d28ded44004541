"""Optimiser and learning-rate schedule of the report: SGD (Nesterov momentum 0.9, weight decay 1e-4),
linear warm-up by iterations, multi-step decay x0.1 at epoch milestones; Adam for mmpose's pose recipes.

Every value is a field, because the report and the authors' public configs disagree (Nesterov flag,
CSN warm-up 16 *iterations* in the report vs 16 *epochs* in the configs, gradient clipping at 40).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Annotated

import torch
from torch import nn

from partparse.config import above, at_least, between, each, one_of


@dataclass
class OptimConfig:
    name: Annotated[str, one_of("sgd", "adam", "adamw")] = "sgd"  # adam: mmpose's HRNet recipes (lr 5e-4, no wd)
    lr: Annotated[float, above(0)] = 0.01  # total learning rate for the whole batch (all GPUs)
    momentum: Annotated[float, between(0, 1)] = 0.9
    nesterov: bool = True             # the report; the authors' configs leave it off
    weight_decay: Annotated[float, at_least(0)] = 1e-4
    norm_weight_decay: Annotated[float | None, at_least(0)] = None  # None: same as weight_decay (mmaction2/mmdet)
    grad_clip: Annotated[float | None, above(0)] = None  # max global L2 norm; the authors' CSN configs use 40


@dataclass
class ScheduleConfig:
    epochs: Annotated[int, at_least(1)] = 24
    milestones: Annotated[list[int], each(at_least(0))] = field(default_factory=lambda: [16, 22])  # lr *= gamma
    gamma: Annotated[float, above(0)] = 0.1
    warmup_iters: Annotated[int, at_least(0)] = 0  # linear warm-up length in iterations (report: 1800 det., 16 CSN)
    warmup_epochs: Annotated[float, at_least(0)] = 0.0  # or in epochs (authors' CSN config: 16); adds to warmup_iters
    warmup_start: Annotated[float, between(0, 1)] = 0.1  # lr factor at iteration 0 of the warm-up
    policy: Annotated[str, one_of("step", "cosine")] = "step"  # step (milestones x gamma, the report) | cosine (to 0)


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD (or Adam / AdamW) over trainable parameters; normalisation weights/biases may get their own weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.norm_weight_decay is None:
        groups = [{"params": params, "weight_decay": cfg.weight_decay}]
    else:
        norm_ids = {id(p) for m in model.modules() if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm,
                                                                      nn.LayerNorm)) for p in m.parameters()}
        groups = [{"params": [p for p in params if id(p) not in norm_ids], "weight_decay": cfg.weight_decay},
                  {"params": [p for p in params if id(p) in norm_ids], "weight_decay": cfg.norm_weight_decay}]
        groups = [g for g in groups if g["params"]]
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    if cfg.name == "adamw":  # decoupled weight decay: the groups' weight_decay is not an L2 gradient term
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.name != "sgd":
        raise ValueError(f"optim.name must be 'sgd', 'adam' or 'adamw', got {cfg.name!r}")
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)


def lr_factor(iteration: int, iters_per_epoch: int, cfg: ScheduleConfig) -> float:
    """Multiplier of the base lr at a (0-based) global iteration: warm-up x decay (step or cosine)."""
    if cfg.policy == "cosine":
        total = max(1, cfg.epochs * max(1, iters_per_epoch))
        decay = 0.5 * (1.0 + math.cos(math.pi * min(iteration, total) / total))
    elif cfg.policy == "step":
        decay = cfg.gamma ** bisect.bisect_right(sorted(cfg.milestones), iteration // max(1, iters_per_epoch))
    else:
        raise ValueError(f"schedule.policy must be 'step' or 'cosine', got {cfg.policy!r}")
    warm = cfg.warmup_iters + int(round(cfg.warmup_epochs * iters_per_epoch))
    if iteration < warm:
        return decay * (cfg.warmup_start + (1.0 - cfg.warmup_start) * iteration / warm)
    return decay


def build_scheduler(optimizer: torch.optim.Optimizer, iters_per_epoch: int,
                    cfg: ScheduleConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration scheduler (call ``step()`` after every optimiser step)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: lr_factor(it, iters_per_epoch, cfg))
