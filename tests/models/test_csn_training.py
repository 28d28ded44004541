"""From scratch, CSN needs zero-initialised residual branches: with the default init the first gradient
norm is ~15x larger and the loss explodes before it settles (measured while tuning the CPU recipe)."""

from __future__ import annotations

import torch

from partparse.models.csn import build_csn


def _first_grad_norm_and_fit(zero_init: bool) -> tuple[float, float, float]:
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 4, 32, 32), torch.arange(4)
    model = build_csn("ir", 26, 4, dropout=0.0, zero_init_residual=zero_init)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model.train()
    losses, first_norm = [], None
    for _ in range(12):
        loss = torch.nn.functional.cross_entropy(model(x)["action"], y)
        opt.zero_grad()
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9))
        first_norm = first_norm if first_norm is not None else norm
        opt.step()
        losses.append(loss.item())
    return first_norm, losses[0], losses[-1]


def test_zero_init_residual_tames_the_first_steps_and_fits_a_batch():
    norm_zero, start, end = _first_grad_norm_and_fit(True)
    norm_default, _, _ = _first_grad_norm_and_fit(False)
    assert norm_zero * 5 < norm_default
    assert end < 0.5 * start
