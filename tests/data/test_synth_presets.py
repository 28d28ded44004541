"""Named SynTPS datasets: the benchmark preset is fixed content."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.synthetic import presets
from partparse.data.synthetic.generator import SynthConfig, plan_videos


def test_bench_is_1000_videos_of_seed_2021_with_a_200_video_val_split():
    cfg = presets.preset_config("bench")
    assert (cfg.videos, cfg.seed, cfg.width, cfg.height, cfg.frames, cfg.actions) == (1000, 2021, 320, 240, 64, 10)
    assert sum(p.split == "val" for p in plan_videos(cfg)) == 200


def test_unknown_and_outdated_presets_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown SynTPS preset 'nope' \\(known: bench\\)"):
        presets.preset_config("nope")
    monkeypatch.setitem(presets.PRESETS, "old", (SynthConfig(), -1))
    with pytest.raises(ValueError, match="generator version -1.*define a new preset name"):
        presets.preset_config("old")


def test_the_cli_refuses_content_options_beside_a_preset(tmp_path):
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "b"), "--preset", "bench", "--seed", "3",
                                   "--frames", "8"])
    assert res.exit_code == 2
    assert "--preset bench fixes the content: drop --seed, --frames" in res.stderr
    assert not (tmp_path / "b").exists()


def test_max_people_sets_the_most_persons_of_a_scene_and_is_a_content_option(tmp_path):
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "b"), "--preset", "bench", "--max-people", "6"])
    assert res.exit_code == 2 and "drop --max-people" in res.stderr
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "c"), "--max-people", "11"])
    assert res.exit_code == 2 and "max_people must be 1..10, got 11" in res.stderr
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "d"), "--videos", "3", "--frames", "6",
                                   "--size", "96x64", "--max-people", "6", "--seed", "5"])
    assert res.exit_code == 0, res.stderr
    config = json.loads((tmp_path / "d" / "synth_config.json").read_text())
    assert config["max_people"] == 6
