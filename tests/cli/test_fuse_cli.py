"""``partparse fuse`` (issue 13): the recipe keeps its comments and stays loadable; bad score files and
options are one-line errors, and nothing is written then."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.pipeline.parse_recipe import load_parse_recipe
from partparse.pipeline.score_fusion import save_scores

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def scores(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"v{i}" for i in range(40)]
    y = rng.integers(0, 4, 40)
    for name, boost in (("ir.npz", 0.8), ("ip.npz", 0.4)):
        s = rng.random((40, 4))
        s[np.arange(40), y] += boost
        save_scores(tmp_path / name, ids, {"action": s, "hand": rng.random((40, 3))}, {"action": y, "hand": y % 3})
    return tmp_path / "ir.npz", tmp_path / "ip.npz"


def _fuse(*args) -> object:
    return CliRunner().invoke(app, ["fuse", *map(str, args)])


def _one_line_error(res, part: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and part in res.stderr, res.stderr


def test_a_parse_recipe_gets_its_fusion_weights_and_keeps_every_comment(scores, tmp_path):
    recipe = tmp_path / "parse.yaml"
    shutil.copy(CONFIGS / "parse" / "syntps_cpu.yaml", recipe)
    before = recipe.read_text()
    res = _fuse(*scores, "--recipe", recipe)
    assert res.exit_code == 0, res.output
    after = recipe.read_text()
    comments = [line.split("#", 1)[1] for line in before.splitlines() if "#" in line]
    assert all(c in after for c in comments) and after.count("null") == before.count("null")
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert len(changed) == 3 and changed[0].split("#")[0].rstrip() == "  fusion_weights:"   # its comment kept
    assert changed[1].startswith("    action: [") and changed[2].startswith("    hand: [")
    cfg = load_parse_recipe(recipe)                                   # still a parse recipe
    assert set(cfg.models.fusion_weights) == {"action", "hand"} and len(cfg.models.fusion_weights["action"]) == 2
    assert _fuse(*scores, "--recipe", recipe).exit_code == 0 and recipe.read_text() == after   # idempotent


def test_a_video_recipe_gets_a_fusion_section(scores, tmp_path):
    recipe = tmp_path / "csn.yaml"
    shutil.copy(CONFIGS / "csn" / "ir_csn_26_syntps_cpu.yaml", recipe)
    before = recipe.read_text()
    assert _fuse(*scores, "--recipe", recipe).exit_code == 0
    after = recipe.read_text()
    assert after.startswith(before) and "fusion:\n  score_files: [" in after


def _truncated(path: Path, out: Path) -> Path:
    out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return out


def test_bad_score_files_and_options_are_one_line_and_write_nothing(scores, tmp_path):
    ir, ip = scores
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# mine\nmodel:\n  depth: 26\n")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    other = tmp_path / "other.npz"
    save_scores(other, [f"v{i}" for i in range(40)], {"action": np.random.rand(40, 5), "hand": np.random.rand(40, 3)},
                {"action": np.zeros(40, int), "hand": np.zeros(40, int)})
    rows = tmp_path / "rows.npz"
    save_scores(rows, [f"v{i}" for i in range(40)], {"action": np.random.rand(39, 4)}, {"action": np.zeros(40, int)})
    relabelled = tmp_path / "relabelled.npz"
    save_scores(relabelled, [f"v{i}" for i in range(40)],
                {"action": np.random.rand(40, 4), "hand": np.random.rand(40, 3)},
                {"action": np.arange(40) % 4, "hand": np.zeros(40, int)})
    cases = [
        ((ir, relabelled), "relabelled.npz: labels of head 'action' differ from those of"),
        ((ir, _truncated(ip, tmp_path / "half.npz")), "half.npz: not a partparse score file (BadZipFile"),
        ((ir, empty), "empty.npz: not a partparse score file (EOFError"),
        ((ir, other), "other.npz: 5 classes for head 'action', "),
        ((ir, rows), "rows.npz: scores/action is float"),
        ((ir, ip, "--max-weight", "-1"), "--max-weight must be 1..100, got -1"),
        ((ir, ip, "--max-weight", "0"), "--max-weight must be 1..100, got 0"),
        ((ir, ip, ir, ip, ir, ip, ir), "weight vectors: lower --max-weight"),
        ((ir,), "fuse needs the score files of at least two models"),
    ]
    for args, message in cases:
        _one_line_error(_fuse(*args, "--recipe", recipe), message)
    assert recipe.read_text() == "# mine\nmodel:\n  depth: 26\n"


def test_unusable_recipes_are_one_line(scores, tmp_path, monkeypatch):
    _one_line_error(_fuse(*scores, "--recipe", tmp_path), f"{tmp_path}: recipe not found")
    pose = tmp_path / "pose.yaml"
    pose.write_text("task: pose\n")
    _one_line_error(_fuse(*scores, "--recipe", pose), "a 'pose' recipe has no fusion weights")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models:\n  persn: x\ntask: parse\n")
    _one_line_error(_fuse(*scores, "--recipe", broken), "unknown key 'persn'")
    good = tmp_path / "good.yaml"
    good.write_text("task: parse\n")

    def full_disk(path, write, mode="w"):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("partparse.cli.fuse.atomic_write", full_disk)
    _one_line_error(_fuse(*scores, "--recipe", good), "good.yaml: No space left on device")
    assert good.read_text() == "task: parse\n"
