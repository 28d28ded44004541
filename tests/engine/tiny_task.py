"""A tiny regression task for engine tests: deterministic data, a linear model, MSE loss."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset


def make_dataset(n: int = 64, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    w = torch.arange(6, dtype=torch.float32)
    return TensorDataset(x, x @ w + 0.01 * torch.randn(n, generator=g))


def make_model(seed: int = 0, batch_norm: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    norm = nn.BatchNorm1d(16) if batch_norm else nn.Identity()
    return nn.Sequential(nn.Linear(6, 16), norm, nn.ReLU(), nn.Linear(16, 1))


def step_fn(model, batch, device):
    x, y = (t.to(device) for t in batch)
    return {"mse": nn.functional.mse_loss(model(x).squeeze(1), y)}


def eval_fn(model, loader, device):
    err, n = 0.0, 0
    for x, y in loader:
        err += nn.functional.mse_loss(model(x.to(device)).squeeze(1), y.to(device), reduction="sum").item()
        n += len(y)
    return {"neg_mse": -err / n}
