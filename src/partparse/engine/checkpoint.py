"""Training checkpoints: written atomically every epoch, ``latest.pth`` for ``--resume``; and the one
reader of a finished run's model weights (:func:`checkpoint_of`, :func:`read_model_state`).

A checkpoint holds everything needed to continue bit-for-bit: model, optimiser, scheduler, AMP scaler,
epoch, global iteration and the RNG states. Old epoch files are pruned, ``latest.pth`` and ``best.pth``
are kept.

Everything in a checkpoint is a tensor, a number, a string or a list/tuple/dict of those (the RNG
states included), so it is read weights-only (:func:`partparse.models.weights.load_torch_file`): a
``latest.pth`` planted in a work dir someone handed you cannot run code on ``--resume``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from partparse.io import InputError
from partparse.model_zoo import is_zoo_name
from partparse.model_zoo import resolve as resolve_zoo
from partparse.models.weights import load_torch_file, save_checkpoint
from partparse.run_layout import RunLayout


def rng_state() -> dict[str, Any]:
    """The Python, NumPy, torch (and CUDA) RNG states as tensors, ints and tuples of ints (what a
    weights-only load reads without allow-listing anything)."""
    np_state = np.random.get_state(legacy=False)
    assert np_state["bit_generator"] == "MT19937"  # the legacy global generator always is
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                       "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                       "gauss": float(np_state["gauss"])}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` (also the older format, whose NumPy state is ``np.random.get_state()``)."""
    random.setstate(state["python"])
    np_state = state["numpy"]
    if isinstance(np_state, dict):
        np_state = ("MT19937", np_state["key"].numpy().astype(np.uint32), np_state["pos"], np_state["has_gauss"],
                    np_state["gauss"])
    np.random.set_state(np_state)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointManager:
    """Saves ``epoch_NNN.pth`` + ``latest.pth`` in ``folder``; keeps the ``keep`` newest epoch files."""

    def __init__(self, folder: str | Path, keep: int = 3):
        self.folder = Path(folder)
        self.layout = RunLayout(self.folder)
        self.keep = keep

    @property
    def latest(self) -> Path:
        return self.layout.latest

    def save(self, state: dict[str, Any], epoch: int, best: bool = False) -> Path:
        path = save_checkpoint(self.layout.epoch(epoch), state)
        save_checkpoint(self.latest, state)
        if best:
            save_checkpoint(self.layout.best, state)
        epochs = sorted(self.folder.glob("epoch_*.pth"))
        for old in epochs[: max(0, len(epochs) - self.keep)]:
            old.unlink(missing_ok=True)
        return path

    def load(self, path: str | Path | None = None) -> dict[str, Any] | None:
        """The state at ``path`` (default ``latest.pth``), or None if there is no checkpoint yet.

        Weights-only: a file holding other objects, or not a checkpoint at all, is an InputError."""
        path = Path(path) if path is not None else self.latest
        if not path.exists():
            return None
        state = load_torch_file(path, untrusted_hint=" (refused: unpickling them could run code)",
                                unreadable="cannot read checkpoint")
        if not isinstance(state, dict) or "model" not in state:
            raise InputError(f"{path}: cannot read checkpoint (not a partparse training checkpoint)")
        return state


def checkpoint_of(path: str | Path) -> tuple[Path, Path]:
    """``(work dir, checkpoint file)`` of a work dir (``best.pth``, else ``latest.pth``), of a ``.pth``, or
    of a model-zoo name ``zoo:<name>`` (its files checked against the manifest's sha256 first)."""
    if is_zoo_name(path):
        path = resolve_zoo(str(path))
    path = Path(path)
    if path.is_dir():
        checkpoint = RunLayout(path).checkpoint()
        if checkpoint is None:
            raise InputError(f"{path}: no best.pth or latest.pth (not a finished training run?)")
        return path, checkpoint
    if path.suffix == ".pth":
        if not path.is_file():
            raise InputError(f"{path}: checkpoint not found")
        return path.parent, path
    raise InputError(f"{path}: expected a training work dir or a .pth checkpoint")


def read_model_state(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The model tensors of a ``partparse train`` checkpoint, read weights-only (it cannot run code)."""
    state = load_torch_file(checkpoint, untrusted_hint=" (refused: unpickling them could run code)",
                            unreadable="not a readable partparse checkpoint")
    model = state.get("model", state) if isinstance(state, dict) else None
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise InputError(f"{checkpoint}: holds no model state dict")
    return model
