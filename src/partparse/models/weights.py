"""Loading foreign checkpoints by explicit key maps, and saving our own atomically.

Every model family provides a ``checkpoint_filter_fn(state_dict) -> state_dict`` (timm's idea) that
renames the public checkpoint's keys (mmaction2, mmdetection, mmpose, VMZ) into ours; :func:`load_mapped`
then loads what fits and reports what did not. Nothing here downloads: paths are local files.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from partparse.io import InputError, atomic_write


@dataclass
class LoadReport:
    """What :func:`load_mapped` did: keys loaded, our keys left missing, checkpoint keys unused, shape clashes."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"loaded {len(self.loaded)} tensors; missing {len(self.missing)}, unexpected "
                f"{len(self.unexpected)}, shape mismatches {len(self.mismatched)}")


#: Recipe key that lets a foreign pretrained checkpoint be unpickled in full (named in refusals).
TRUST_KEY = "model.trust_checkpoint"


def _numpy_rng_globals() -> list:
    """What the NumPy RNG state inside older ``partparse train`` checkpoints needs to unpickle: arrays
    and their dtypes (data, never code). Newer checkpoints store RNG states as tensors and ints."""
    import numpy as np

    reconstruct = getattr(np, "_core", np).multiarray._reconstruct
    return [np.ndarray, np.dtype, np.dtypes.UInt32DType, np.dtypes.Int64DType, np.dtypes.Float64DType, reconstruct]


def load_torch_file(path: str | os.PathLike, trusted: bool = False, untrusted_hint: str = "",
                    unreadable: str = "not a readable PyTorch checkpoint") -> Any:
    """The object saved in a ``torch.save`` file, on the CPU: the one place partparse calls ``torch.load``.

    Loading is weights-only (tensors, numbers, strings, lists, dicts and NumPy arrays), so a file cannot
    run code whatever it holds; a file that needs more is refused with an :class:`InputError` ending in
    ``untrusted_hint`` (a corrupt or foreign file: ``<path>: <unreadable> (<why>)``). Only
    ``trusted=True`` (a recipe's ``model.trust_checkpoint: true``, for a pretrained file from a source
    the user trusts) unpickles everything. Every error names the file.
    """
    path = Path(path)
    if not path.is_file():  # also keeps FIFOs out, which would block the read
        raise InputError(f"{path}: checkpoint not found")
    try:
        # trusted: unpickle everything (the allow-list is then unused)
        with torch.serialization.safe_globals(_numpy_rng_globals()):
            return torch.load(path, map_location="cpu", weights_only=not trusted)
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt or foreign files
        message = str(err)
        # torch's weights-only unpickler refuses a class or function the file names ("Unsupported global:
        # GLOBAL builtins.open ..."); any other UnpicklingError is a corrupt file
        if isinstance(err, pickle.UnpicklingError) and re.search(r"global|unrecognized function", message, re.I):
            raise InputError(f"{path}: checkpoint holds Python objects beyond tensors{untrusted_hint}") from None
        detail = message.split("WeightsUnpickler error:", 1)[-1].strip()  # torch's reason, after its advice
        detail = detail.splitlines()[0][:200] if detail else ""
        raise InputError(f"{path}: {unreadable} ({type(err).__name__}: {detail})") from None


def read_checkpoint(path: str | os.PathLike, trusted: bool = False) -> dict[str, torch.Tensor]:
    """Read a local (pretrained) checkpoint file into a flat ``{key: tensor}`` dict (CPU).

    Unwraps the usual containers (``state_dict``, ``model``, ``module``). Loading is weights-only
    (:func:`load_torch_file`), so a checkpoint cannot run code; files whose metadata holds other Python
    objects (mmengine's training ``meta``, for one) are refused unless ``trusted=True`` (set by the
    recipe key ``model.trust_checkpoint: true``), which unpickles everything: only for files from a
    source you trust. Errors name the file.
    """
    obj = load_torch_file(path, trusted, untrusted_hint=(
        f"; if the file comes from a source you trust, set {TRUST_KEY}: true in the recipe (it then unpickles "
        "the file, which can run code)"))
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: no state dict of tensors found in the checkpoint")
    return dict(obj)


def load_mapped(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                key_map: Callable[[str], str | None] | None = None) -> LoadReport:
    """Copy tensors of ``state_dict`` into ``model`` after renaming keys with ``key_map``.

    ``key_map(foreign_key)`` returns our key, or ``None`` to drop the tensor (e.g. a classifier of
    another label space). Tensors whose shape does not match are skipped and reported, never forced.
    """
    ours = model.state_dict()
    report = LoadReport()
    to_load: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key_map(key) if key_map is not None else key
        if new is None or new not in ours:
            report.unexpected.append(key)
        elif tuple(ours[new].shape) != tuple(value.shape):
            report.mismatched.append((new, tuple(value.shape), tuple(ours[new].shape)))
        else:
            to_load[new] = value
    model.load_state_dict(to_load, strict=False)
    report.loaded = sorted(to_load)
    report.missing = sorted(k for k in ours if k not in to_load)
    return report


def save_checkpoint(path: str | os.PathLike, obj: Any) -> Path:
    """``torch.save`` to ``path`` atomically (temporary file + rename): a crash never leaves half a file."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write(path, lambda fh: fh.write(buf.getvalue()), mode="wb")
