"""Training checkpoints: written atomically every epoch, ``latest.pth`` for ``--resume``.

A checkpoint holds everything needed to continue bit-for-bit: model, optimiser, scheduler, AMP scaler,
epoch, global iteration and the RNG states. Old epoch files are pruned, ``latest.pth`` and ``best.pth``
are kept.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from partparse.io import InputError
from partparse.models.weights import save_checkpoint


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """Saves ``epoch_NNN.pth`` + ``latest.pth`` in ``folder``; keeps the ``keep`` newest epoch files."""

    def __init__(self, folder: str | Path, keep: int = 3):
        self.folder = Path(folder)
        self.keep = keep

    @property
    def latest(self) -> Path:
        return self.folder / "latest.pth"

    def save(self, state: dict[str, Any], epoch: int, best: bool = False) -> Path:
        path = save_checkpoint(self.folder / f"epoch_{epoch:03d}.pth", state)
        save_checkpoint(self.latest, state)
        if best:
            save_checkpoint(self.folder / "best.pth", state)
        epochs = sorted(self.folder.glob("epoch_*.pth"))
        for old in epochs[: max(0, len(epochs) - self.keep)]:
            old.unlink(missing_ok=True)
        return path

    def load(self, path: str | Path | None = None) -> dict[str, Any] | None:
        """The state at ``path`` (default ``latest.pth``), or None if there is no checkpoint yet."""
        path = Path(path) if path is not None else self.latest
        if not path.exists():
            return None
        try:
            # our own files: they hold optimiser state and RNG states, not only tensors
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - corrupt or foreign file
            raise InputError(f"{path}: cannot read checkpoint ({type(err).__name__})") from None
