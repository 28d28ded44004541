from __future__ import annotations

import numpy as np
import pytest

from partparse.experiments.fusion_search import search_fusion_weights, top1_accuracy
from partparse.pipeline.score_fusion import fuse_heads, fuse_scores


def test_fusion_is_the_weighted_average():
    a, b = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.1, 0.9], [0.6, 0.4]])
    np.testing.assert_allclose(fuse_scores([a, b], [7.0, 1.0]), (7 * a + b) / 8)
    with pytest.raises(ValueError, match="2 score arrays but 1 weights"):
        fuse_scores([a, b], [1.0])
    with pytest.raises(ValueError, match="differ in shape"):
        fuse_scores([a, b[:1]], [1, 1])
    with pytest.raises(ValueError, match="not all 0"):
        fuse_scores([a, b], [0, 0])


def test_weight_search_finds_a_fusion_better_than_either_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 200)
    strong = rng.random((200, 5))
    strong[np.arange(200), labels] += 0.6
    weak = rng.random((200, 5))
    weak[np.arange(200), labels] += 0.3
    weights, acc = search_fusion_weights([strong, weak], labels)
    assert acc >= max(top1_accuracy(strong, labels), top1_accuracy(weak, labels))
    assert weights[0] >= weights[1]
    assert acc == top1_accuracy(fuse_scores([strong, weak], weights), labels)


def test_per_head_weights():
    m1 = {"action": np.eye(2), "hand": np.eye(2)}
    m2 = {"action": np.eye(2)[::-1], "hand": np.eye(2)[::-1]}
    out = fuse_heads([m1, m2], {"action": [1, 0]}, default=[0, 1])
    np.testing.assert_array_equal(out["action"], np.eye(2))
    np.testing.assert_array_equal(out["hand"], np.eye(2)[::-1])


def test_fuse_command_writes_weights_into_the_recipe(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from partparse.cli import app
    from partparse.pipeline.score_fusion import load_scores, save_scores

    rng = np.random.default_rng(1)
    ids = [f"v{i}" for i in range(60)]
    y = rng.integers(0, 4, 60)
    for name, boost, order in (("ir.npz", 0.8, slice(None)), ("ip.npz", 0.4, slice(None, None, -1))):
        s = rng.random((60, 4))
        s[np.arange(60), y] += boost
        save_scores(tmp_path / name, np.array(ids)[order], {"action": s[order]}, {"action": y[order]})
    vids, scores, labels = load_scores(tmp_path / "ip.npz")
    assert vids[0] == "v59" and scores["action"].shape == (60, 4)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model:\n  depth: 152\n")
    res = CliRunner().invoke(app, ["fuse", str(tmp_path / "ir.npz"), str(tmp_path / "ip.npz"), "--recipe", str(recipe)])
    assert res.exit_code == 0, res.output
    data = yaml.safe_load(recipe.read_text())
    assert data["model"] == {"depth": 152} and len(data["fusion"]["weights"]["action"]) == 2
    bad = CliRunner().invoke(app, ["fuse", str(tmp_path / "ir.npz"), str(tmp_path / "nope.npz")])
    assert bad.exit_code == 2 and "nope.npz: score file not found" in bad.stderr
