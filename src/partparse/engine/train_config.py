"""The ``train:`` section of every recipe: where the run goes, batch sizes, seed, precision, validation.

Its own module so that reading a recipe (to load a trained model for ``partparse parse``) does not
import the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from partparse.config import NON_EMPTY, at_least, between, one_of


@dataclass
class TrainConfig:
    work_dir: Annotated[str, NON_EMPTY] = "runs/exp"
    batch_size: Annotated[int, at_least(1)] = 4                    # per process (per GPU)
    val_batch_size: Annotated[int, at_least(1)] = 1
    num_workers: Annotated[int, between(0, 256)] = 0
    seed: Annotated[int, between(0, 2**63 - 1)] = 0
    amp: Annotated[str, one_of("auto", "off", "bf16", "fp16")] = "auto"  # auto (bf16 on CUDA, off on CPU)
    log_interval: Annotated[int, at_least(1)] = 10                 # iterations between log lines
    val_interval: Annotated[int, at_least(1)] = 1                  # epochs between validations
    keep_checkpoints: Annotated[int, at_least(1)] = 3
    max_iters_per_epoch: Annotated[int | None, at_least(1)] = None  # cap for smoke runs
    monitor: str | None = None             # validation metric whose maximum is saved as best.pth
    find_unused_parameters: bool = False
