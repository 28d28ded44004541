"""The model zoo mechanics on a tiny run: pack (float16), resolve with checksums, load by name, refuse
a missing, corrupt or unknown entry in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.engine.checkpoint import read_model_state
from partparse.engine.trained_models import load_trained
from partparse.engine.zoo_pack import pack_file, pack_run
from partparse.io import InputError
from partparse.model_zoo import registry
from partparse.models.csn import build_csn
from partparse.models.weights import save_checkpoint

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "csn" / "ir_csn_26_syntps_bench.yaml"


@pytest.fixture()
def zoo(tmp_path, monkeypatch):
    root = tmp_path / "zoo"
    root.mkdir()
    monkeypatch.setattr(registry, "zoo_root", lambda: root)
    return root


@pytest.fixture()
def run(tmp_path):
    """A finished video run as `partparse train` leaves it (recipe, label spaces, best.pth)."""
    work = tmp_path / "run"
    work.mkdir()
    work.joinpath("recipe.yaml").write_text(RECIPE.read_text())
    spaces = {"action": ["a", "b"], "hand": ["a_Hand_none", "b_Hand_wave"]}
    work.joinpath("label_spaces.json").write_text(json.dumps(spaces))
    torch.manual_seed(0)
    model = build_csn("ir", 26, {h: len(n) for h, n in spaces.items()}, base_channels=16)
    save_checkpoint(work / "best.pth", {"model": model.state_dict(), "optimizer": {}, "epoch": 3})
    work.joinpath("metrics.jsonl").write_text("\n".join(json.dumps(e) for e in [
        {"event": "train", "epoch": 0, "iteration": 5, "loss": 2.0},
        {"event": "val", "epoch": 0, "iteration": 10, "top1_action": 0.2},
        {"event": "val", "epoch": 1, "iteration": 20, "top1_action": 0.4}]) + "\n")
    return work, model


def _pack(work: Path, name: str = "syntps/tiny", **kw):
    return pack_run(work, name, recipe="configs/csn/x.yaml", data={"command": "partparse synth ..."},
                    rebuild=["partparse train ..."], metrics={"top1_action": 0.5}, training={"seconds": 1}, **kw)


def test_pack_then_load_by_name_gives_the_model_in_float16_precision(zoo, run):
    work, model = run
    entry = _pack(work)
    assert entry.task == "video" and set(entry.files) == {"best.pth", "label_spaces.json", "metrics.jsonl",
                                                         "recipe.yaml"}
    stored = read_model_state(zoo / "syntps/tiny" / "best.pth")
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    loaded, recipe, _ = load_trained("zoo:syntps/tiny")
    assert recipe.name == "ir_csn_26_syntps_bench"
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value.half().to(value.dtype))
    manifest = json.loads((zoo / "manifest.json").read_text())
    assert manifest["models"]["syntps/tiny"]["metrics"] == {"top1_action": 0.5}
    res = CliRunner().invoke(app, ["curves", "zoo:syntps/tiny", "--out", str(work / "c.png")])
    assert res.exit_code == 0, res.output
    assert (work / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="exists"):
        _pack(work)                                               # every version stays: replace explicitly
    (work / "metrics.jsonl").unlink()
    assert set(_pack(work, replace=True).files) == {"best.pth", "label_spaces.json", "recipe.yaml"}
    assert not (zoo / "syntps/tiny" / "metrics.jsonl").exists()   # nothing of the old version stays


def test_missing_corrupt_and_unknown_entries_are_one_line_errors(zoo, run):
    work, _ = run
    _pack(work)
    with pytest.raises(InputError, match=r"zoo:nope: not in the model zoo \(known: syntps/tiny\)"):
        registry.resolve("zoo:nope")
    weights = zoo / "syntps/tiny" / "best.pth"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF                                  # one flipped byte
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"zoo:syntps/tiny: .*best.pth is corrupt \(sha256"):
        load_trained("zoo:syntps/tiny")
    weights.unlink()
    with pytest.raises(InputError, match=r"zoo:syntps/tiny: .*best.pth is missing"):
        load_trained("zoo:syntps/tiny")
    res = CliRunner().invoke(app, ["zoo", "verify"])
    assert res.exit_code == 2 and "best.pth is missing" in res.stderr and "Traceback" not in res.output


def test_a_data_file_entry_and_the_cli_listing(zoo, tmp_path):
    table = tmp_path / "class_prior.json"
    table.write_text(json.dumps({"clap": {"hand": "clap"}}))
    pack_file(table, "syntps/class-prior", task="class_prior", recipe="", data={"command": "synth"}, rebuild=[],
              metrics={}, training={})
    assert registry.resolve("zoo:syntps/class-prior") == zoo / "syntps/class-prior"
    res = CliRunner().invoke(app, ["zoo", "list"])
    assert res.exit_code == 0 and "zoo:syntps/class-prior" in res.output
    res = CliRunner().invoke(app, ["zoo", "show", "syntps/class-prior"])
    assert res.exit_code == 0 and json.loads(res.output)["task"] == "class_prior"


def test_curves_drop_the_steps_a_resume_redid(tmp_path):
    from partparse.viz.learning_curves import read_curves

    lines = [{"event": "train", "iteration": 10, "loss": 3.0}, {"event": "val", "iteration": 10, "top1_action": 0.1},
             {"event": "train", "iteration": 20, "loss": 2.5}, {"event": "resume", "epoch": 1, "iteration": 10},
             {"event": "train", "iteration": 20, "loss": 2.4}, {"event": "val", "iteration": 20, "top1_action": 0.3}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    curves = read_curves(tmp_path)
    assert curves["train_loss"] == [(10, 3.0), (20, 2.4)]
    assert curves["top1_action"] == [(10, 0.1), (20, 0.3)]
    (tmp_path / "metrics.jsonl").write_text("not json\n")
    with pytest.raises(InputError, match=r"metrics.jsonl:1: not a JSON line"):
        read_curves(tmp_path)


@pytest.mark.parametrize("name", ["../x", "/abs/x", "a/../../x", "a//b", "", "a b", "./x"])
def test_entry_names_that_would_leave_the_zoo_are_refused(zoo, run, name):
    work, _ = run
    with pytest.raises(InputError, match="zoo entry name"):
        _pack(work, name=name)
    assert not (zoo / "manifest.json").exists()


def test_pack_options_that_are_not_json_objects_are_one_line(zoo, run):
    work, _ = run
    for option, value in (("--metrics", "{bad"), ("--training", "[1]")):
        res = CliRunner().invoke(app, ["zoo", "pack", str(work), "--name", "syntps/t", "--recipe", "r",
                                       "--data-command", "d", option, value])
        assert res.exit_code == 2 and f"error: {option}: " in res.stderr, res.output


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"models": {"a": {"task": 1}}}', '{"version": 1}'])
def test_a_malformed_manifest_is_one_line(zoo, text):
    (zoo / "manifest.json").write_text(text)
    with pytest.raises(InputError, match="manifest.json"):
        registry.load_manifest()
