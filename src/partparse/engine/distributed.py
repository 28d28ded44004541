"""Multi-GPU and multi-node training with ``torchrun``: process group, samplers, reductions.

``torchrun --nproc-per-node N ...`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; without them
everything runs in one process. The backend is NCCL on CUDA and gloo on CPU (CI runs 2 CPU ranks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun; pick this rank's device."""
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, local, world, dev)


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group together: a rank that tears gloo down while another is still sending
    (e.g. rank 0 writing its last checkpoint) can abort the other ("terminate called without an active
    exception"), so every rank waits at a barrier first."""
    if info.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over ranks (a copy; the input is untouched)."""
    if not info.distributed:
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def make_sampler(dataset: Dataset, shuffle: bool, info: DistInfo, seed: int) -> DistributedSampler:
    """A DistributedSampler for every case: each rank a disjoint shard under torchrun, the whole set in
    one process. Its order depends only on ``seed`` and the epoch (``set_epoch``), so a resumed run sees
    the same batches as an uninterrupted one."""
    return DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed,
                              drop_last=False)
