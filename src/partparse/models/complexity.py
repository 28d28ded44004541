"""Parameter count and GFLOPs of a model for one input shape, counted without running real compute.

Convention: **GFLOPs = 10^9 multiply-adds** (one multiply-add counts once), the unit of the CSN paper
(ir-CSN-152: 96.7, ip-CSN-152: 108.8 GFLOPs; those are for a 32x256x256 clip, not 32x224x224).
``torch.utils.flop_counter.FlopCounterMode`` counts a multiply-add as 2 FLOPs, so its total is halved.
Only convolutions and matrix products are counted, as in the paper; mmaction2's model-zoo figures
(98.10 / 110.34 G at 1x3x32x256x256) also add one op per element for ReLU and pooling and two for
BatchNorm, about 1.4% more for CSN.

The model runs on the ``meta`` device: shapes propagate, nothing is allocated or computed, so a
152-layer network at 32x224x224 costs a fraction of a second. A model whose weights are on a real
device is deep-copied to ``meta`` first (the original is untouched).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class Complexity:
    """``params``: number of parameters (all, trainable or not); ``gflops``: 10^9 multiply-adds per forward."""

    params: int
    gflops: float

    @property
    def mparams(self) -> float:
        return self.params / 1e6


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_gflops(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype = torch.float32) -> float:
    """10^9 multiply-adds of one ``model(x)`` with ``x`` of ``input_shape`` (batch included), in eval mode."""
    meta_model = _on_meta(model)
    x = torch.empty(tuple(input_shape), device="meta", dtype=dtype)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        _ = meta_model(x)
    return counter.get_total_flops() / 2 / 1e9


def measure_complexity(model: nn.Module, input_shape: Sequence[int]) -> Complexity:
    """Parameters and GFLOPs (multiply-adds) of ``model`` for ``input_shape``; see the module docstring."""
    return Complexity(params=count_parameters(model), gflops=count_gflops(model, input_shape))


def _on_meta(model: nn.Module) -> nn.Module:
    tensors: list[Any] = [*model.parameters(), *model.buffers()]
    if tensors and all(t.is_meta for t in tensors):
        meta = model
    else:
        meta = copy.deepcopy(model).to("meta")
    # eval: dropout and BN statistics updates are irrelevant to the count, and train-mode BN on meta is wasted work
    return meta.eval()
