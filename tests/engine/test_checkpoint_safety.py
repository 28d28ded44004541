"""No checkpoint runs code: every reader of ``.pth`` files is weights-only (issue 13, items 1, 14 and 20)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from partparse.engine.checkpoint import CheckpointManager, rng_state, set_rng_state
from partparse.engine.trained_models import load_trained
from partparse.io import InputError
from partparse.models.weights import load_torch_file, read_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src" / "partparse"


class _Planted:
    """Unpickling this creates ``marker`` (what a hostile checkpoint would do instead)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def plant_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint shaped like ours whose ``rng`` entry runs code when unpickled in full."""
    torch.save({"model": {"w": torch.zeros(1)}, "epoch": 0, "iteration": 1, "best": 0.0, "rng": _Planted(marker)},
               path)
    return path


def test_the_planted_checkpoint_would_run_code_if_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    plant_checkpoint(tmp_path / "latest.pth", marker)
    torch.load(tmp_path / "latest.pth", weights_only=False)  # what CheckpointManager.load used to do
    assert marker.exists()


def test_every_checkpoint_reader_refuses_the_planted_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = plant_checkpoint(tmp_path / "latest.pth", marker)
    with pytest.raises(InputError, match=r"latest.pth: checkpoint holds Python objects beyond tensors \(refused"):
        CheckpointManager(tmp_path).load()
    with pytest.raises(InputError, match="latest.pth: checkpoint holds Python objects beyond tensors"):
        read_checkpoint(path)
    (tmp_path / "recipe.yaml").write_text("task: pose\nmodel:\n  arch: hrnet_w18_small\n")
    with pytest.raises(InputError, match="latest.pth: checkpoint holds Python objects beyond tensors"):
        load_trained(tmp_path)
    assert not marker.exists()


def test_torch_load_is_called_in_one_place_only():
    calls = {p.relative_to(SRC).as_posix(): len(re.findall(r"\btorch\.load\(", p.read_text()))
             for p in SRC.rglob("*.py")}
    assert {p: n for p, n in calls.items() if n} == {"models/weights.py": 1}  # weights_only=not trusted


def test_training_state_round_trips_weights_only(tmp_path):
    """Our own checkpoints need no allow-list: the RNG states are tensors, ints and tuples."""
    np.random.seed(3)
    torch.manual_seed(3)
    state = {"model": {"w": torch.ones(2)}, "rng": rng_state()}
    torch.save(state, tmp_path / "c.pth")
    expected = (np.random.rand(), torch.rand(1).item())
    loaded = torch.load(tmp_path / "c.pth", weights_only=True)  # plain torch: nothing allow-listed
    set_rng_state(loaded["rng"])
    assert (np.random.rand(), torch.rand(1).item()) == expected


def test_checkpoints_of_the_older_format_still_resume(tmp_path):
    """Runs saved before the RNG states became tensors hold NumPy's state tuple: still read, still restored."""
    np.random.seed(5)
    old = {"python": __import__("random").getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    torch.save({"model": {"w": torch.ones(1)}, "rng": old}, tmp_path / "latest.pth")
    expected = np.random.rand()
    state = CheckpointManager(tmp_path).load()
    set_rng_state(state["rng"])
    assert np.random.rand() == expected


def test_untrusted_pretrained_refusal_names_the_recipe_key(tmp_path):
    path = tmp_path / "mmengine.pth"
    torch.save({"state_dict": {"w": torch.ones(1)}, "meta": {"hook": _Planted(tmp_path / "pwned")}}, path)
    with pytest.raises(InputError) as err:
        read_checkpoint(path)
    assert "set model.trust_checkpoint: true in the recipe" in str(err.value) and "trusted=True" not in str(err.value)
    assert not (tmp_path / "pwned").exists()


def test_no_docstring_names_a_trust_checkpoint_flag():
    mentions = [p for p in SRC.rglob("*.py") if "--trust-checkpoint" in p.read_text()]
    assert mentions == []


def test_corrupt_files_are_one_line_errors(tmp_path):
    for name, data in (("empty.pth", b""), ("junk.pth", b"not a checkpoint"), ("half.pth", None)):
        path = tmp_path / name
        if data is None:
            torch.save({"model": {"w": torch.ones(1000)}}, path)
            path.write_bytes(path.read_bytes()[:500])
        else:
            path.write_bytes(data)
        with pytest.raises(InputError) as err:
            load_torch_file(path)
        assert str(err.value).startswith(f"{path}: not a readable PyTorch checkpoint") and "\n" not in str(err.value)
