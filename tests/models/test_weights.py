"""Checkpoint reading, key-mapped loading and atomic saving."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from partparse.io import InputError
from partparse.models.weights import load_mapped, read_checkpoint, save_checkpoint


class _Meta:  # a foreign object in checkpoint metadata, as mmengine writes
    pass


def test_read_unwraps_and_refuses_untrusted_objects(tmp_path):
    p = tmp_path / "m.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "meta": {"history": _Meta()}}, p)
    with pytest.raises(InputError, match=r"m.pth: checkpoint holds Python objects beyond tensors; if the file"):
        read_checkpoint(p)
    assert torch.equal(read_checkpoint(p, trusted=True)["w"], torch.ones(2))
    save_checkpoint(tmp_path / "plain.pth", {"model": {"w": torch.zeros(3)}})
    assert list(read_checkpoint(tmp_path / "plain.pth")) == ["w"]
    with pytest.raises(InputError, match="nope.pth: checkpoint not found"):
        read_checkpoint(tmp_path / "nope.pth")


def test_load_mapped_reports_every_key():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = {"net.0.weight": torch.ones(3, 2), "net.0.bias": torch.ones(3), "net.1.weight": torch.ones(2, 3),
          "extra": torch.ones(1)}
    report = load_mapped(model, sd, lambda k: k[4:] if k.startswith("net.") else None)
    assert report.loaded == ["0.bias", "0.weight"]
    assert report.missing == ["1.bias", "1.weight"]
    assert report.unexpected == ["extra"]
    assert report.mismatched == [("1.weight", (2, 3), (1, 3))]
    assert torch.equal(model[0].weight, torch.ones(3, 2))
