"""Import mmaction2 ``ResNet3dCSN`` checkpoints (their own and the VMZ conversions) into :mod:`.csn` models.

mmaction2 wraps every conv in an mmcv ``ConvModule`` (children ``conv`` and ``bn``), and keeps a
block's 3x3x3 depthwise conv inside an ``nn.Sequential`` named ``conv2``, preceded in ip blocks by the
1x1x1 pointwise conv; so ``conv2.0`` is the depthwise conv in ir blocks but the pointwise one in ip
blocks, and the key map needs the variant. Names, mmaction2 -> ours (``conv``/``bn`` leaves kept)::

    backbone.conv1.{conv,bn}                  -> backbone.stem.{conv,bn}
    backbone.layerS.B.conv1                   -> backbone.layerS.B.reduce
    backbone.layerS.B.conv2.0       (ir)      -> backbone.layerS.B.depthwise
    backbone.layerS.B.conv2.0 / .1  (ip)      -> backbone.layerS.B.pointwise / .depthwise
    backbone.layerS.B.conv3                   -> backbone.layerS.B.expand
    backbone.layerS.B.downsample              -> backbone.layerS.B.shortcut
    cls_head.fc_cls.{weight,bias}             -> heads.<head>.fc.{weight,bias}

Backbone-only files (mmaction2's IG-65M / Sports-1M pre-training, keys without ``backbone.``) map the
same way. A classifier of another class count is reported as a shape mismatch and left untouched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import partial

import torch
from torch import nn

from partparse.io import InputError
from partparse.models.csn import ResNet3dCSN, VideoClassifier
from partparse.models.weights import LoadReport, load_mapped, read_checkpoint

_BLOCK_KEY = re.compile(r"layer([1-4])\.(\d+)\.(conv1|conv2\.[01]|conv3|downsample)\.(conv|bn)\.(\w+)")
_BLOCK_PARTS = {"conv1": "reduce", "conv3": "expand", "downsample": "shortcut"}
_CONV2_PARTS = {"ir": {"conv2.0": "depthwise"}, "ip": {"conv2.0": "pointwise", "conv2.1": "depthwise"}}
_STEM_KEY = re.compile(r"conv1\.(conv|bn)\.(\w+)")
_HEAD_KEY = re.compile(r"cls_head\.fc_cls\.(weight|bias)")


def mmaction2_csn_key_map(key: str, variant: str = "ir", head: str | None = "action",
                          prefix: str = "backbone.") -> str | None:
    """Our state-dict key for mmaction2 CSN checkpoint ``key``, or ``None`` to drop it.

    ``variant``: ``"ir"`` or ``"ip"``, that of the checkpoint (see the module docstring for why it
    matters). ``head``: the name of our head that receives ``cls_head.fc_cls``, or ``None`` to drop
    the classifier. ``prefix``: where our backbone sits (``"backbone."`` in a :class:`VideoClassifier`,
    ``""`` for a bare :class:`ResNet3dCSN`). Leading ``module.`` (DataParallel) is ignored.
    """
    if variant not in _CONV2_PARTS:
        raise ValueError(f"CSN variant must be 'ir' or 'ip', got {variant!r}")
    key = key.removeprefix("module.")
    if m := _HEAD_KEY.fullmatch(key):
        return None if head is None else f"heads.{head}.fc.{m.group(1)}"
    key = key.removeprefix("backbone.")
    if m := _STEM_KEY.fullmatch(key):
        return f"{prefix}stem.{m.group(1)}.{m.group(2)}"
    if m := _BLOCK_KEY.fullmatch(key):
        stage, block, part, leaf, name = m.groups()
        ours = _CONV2_PARTS[variant].get(part) if part.startswith("conv2") else _BLOCK_PARTS[part]
        return None if ours is None else f"{prefix}layer{stage}.{block}.{ours}.{leaf}.{name}"
    return None


def checkpoint_variant(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """``"ip"`` if the mmaction2 CSN state dict has pointwise+depthwise blocks, ``"ir"`` if depthwise only,
    ``None`` if it has no block weights at all."""
    parts = {m.group(3) for k in state_dict if (m := _BLOCK_KEY.fullmatch(k.removeprefix("module.")
                                                                      .removeprefix("backbone.")))}
    if "conv2.1" in parts:
        return "ip"
    return "ir" if "conv2.0" in parts else None


def load_mmaction2_csn(model: nn.Module, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
                       head: str | None = "action") -> LoadReport:
    """Load an mmaction2 CSN checkpoint (file path or state dict) into ``model``; returns what happened.

    ``model``: a CSN :class:`VideoClassifier` (the classifier goes to head ``head``; ``None`` skips it)
    or a bare :class:`ResNet3dCSN`. Tensors of another shape (a classifier with another number of
    classes, another depth's stage widths) are reported in ``report.mismatched`` and not loaded.
    Raises :class:`InputError` naming the file for an unreadable file or an ir/ip mismatch.
    """
    source = "state dict"
    if isinstance(checkpoint, (str, os.PathLike)):
        source = str(checkpoint)
        checkpoint = read_checkpoint(checkpoint)
    if isinstance(model, VideoClassifier) and isinstance(model.backbone, ResNet3dCSN):
        backbone, prefix = model.backbone, "backbone."
        if head is not None and head not in model.heads:
            raise ValueError(f"model has no head {head!r}; its heads are {list(model.heads)}")
    elif isinstance(model, ResNet3dCSN):
        backbone, prefix, head = model, "", None
    else:
        raise TypeError(f"expected a CSN VideoClassifier or ResNet3dCSN, got {type(model).__name__}")
    found = checkpoint_variant(checkpoint)
    if found is not None and found != backbone.variant:
        raise InputError(f"{source}: holds {found}-CSN blocks but the model is {backbone.variant}-CSN")
    key_map = partial(mmaction2_csn_key_map, variant=backbone.variant, head=head, prefix=prefix)
    return load_mapped(model, checkpoint, key_map)
