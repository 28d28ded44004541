"""Loading foreign checkpoints by explicit key maps, and saving our own atomically.

Every model family provides a ``checkpoint_filter_fn(state_dict) -> state_dict`` (timm's idea) that
renames the public checkpoint's keys (mmaction2, mmdetection, mmpose, VMZ) into ours; :func:`load_mapped`
then loads what fits and reports what did not. Nothing here downloads: paths are local files.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

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


def read_checkpoint(path: str | os.PathLike, trusted: bool = False) -> dict[str, torch.Tensor]:
    """Read a local checkpoint file into a flat ``{key: tensor}`` dict (CPU).

    Unwraps the usual containers (``state_dict``, ``model``, ``module``). By default loading uses
    ``weights_only=True``, so a checkpoint cannot run code; files whose metadata holds other Python
    objects (mmengine's training ``meta``, for one) then need ``trusted=True`` (CLI:
    ``--trust-checkpoint``), which unpickles everything: only for files from a source you trust.
    Errors name the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError:
        hint = "" if trusted else "; if the file comes from a source you trust, load it with trusted=True"
        raise InputError(f"{path}: checkpoint holds Python objects beyond tensors{hint}") from None
    except Exception as err:  # torch raises many types for corrupt or foreign files
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})".splitlines()[0]) from None
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
