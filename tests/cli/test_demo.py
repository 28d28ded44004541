"""`partparse demo` end to end at the smoke budget: every stage trains, Table 1 is parsed and scored."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.cli.demo import FINETUNES
from partparse.data.tps_format import PRED_VID_FILE
from partparse.experiments.ablation import POSE_ROW, TABLE1


@pytest.mark.slow
def test_demo_smoke_budget_writes_table1_curves_overlay_and_report(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--videos", "10", "--parse-videos", "2",
                                   "--budget", "smoke", "--workers", "1", "--seed", "11"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "demo_summary.json").read_text())
    assert [r["row"] for r in summary["table1"]] == [r.name for r in (*TABLE1, POSE_ROW)]
    assert [r["row"] for r in summary["references"]] == [
        "ground truth", "GT boxes + actions, class-prior states", "GT boxes + actions, video-level oracle states",
        "GT boxes + keypoints + actions, pose-stream states"]
    assert all(0.0 <= r["score"] <= 1.0 for r in summary["table1"] + summary["references"])
    first = summary["table1"][0]
    assert first["delta"] is None and first["delta_interval95"] is None
    for before, r in itertools.pairwise(summary["table1"]):  # each step with its paired-bootstrap interval
        lo, hi = r["delta_interval95"]
        assert r["delta"] == pytest.approx(r["score"] - before["score"]) and lo <= hi
    assert summary["videos_parsed"] == 2 and summary["seed"] == 11
    truth = summary["references"][0]
    assert truth["row"] == "ground truth" and truth["score"] == pytest.approx(1.0, abs=1e-3)
    assert [(f["run"], f["frozen_bn"]) for f in summary["finetune"]] == [(n, "model.frozen_bn=false" not in e)
                                                                         for n, _, e in FINETUNES]
    for name, _, _ in FINETUNES:  # fine-tuned from the zoo: the recipe names its zoo model
        assert (out / "runs" / name / "latest.pth").is_file()
        assert "load_from: zoo:syntps/" in (out / "runs" / name / "recipe.yaml").read_text()
    for png in ("finetune.png", "zoo.png"):
        assert (out / "curves" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert "Table 1" in report and report.count("data:image/png;base64,") >= 2 and "frozen" in report
    assert list((out / "overlays").glob("*.mp4")) and (out / "submission" / PRED_VID_FILE).is_file()


def test_demo_rejects_an_unknown_budget(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--budget", "huge"])
    assert res.exit_code == 2 and "--budget" in res.output


@pytest.mark.parametrize("args, message", [
    (["--videos", "0"], "--videos must be >= 2 (one train and one val video)"),
    (["--videos", "-3"], "--videos must be >= 2 (one train and one val video)"),
    (["--parse-videos", "0"], "--parse-videos must be >= 1"),
    (["--workers", "0"], "--workers must be >= 1"),
])
def test_demo_refuses_counts_it_cannot_run_before_doing_anything(tmp_path, args, message):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), *args])
    assert res.exit_code == 2 and res.stderr.strip() == f"error: {message}, got {args[1]}"
    assert not out.exists()


def test_a_rerun_with_another_seed_refuses_the_dataset_it_finds(tmp_path):
    out = tmp_path / "demo"
    (out / "syntps" / "gt_val").mkdir(parents=True)
    (out / "syntps" / "gt_val" / "gt_vid_result.json").write_text("{}")
    (out / "syntps" / "synth_config.json").write_text(json.dumps({"seed": 7, "videos": 10}))
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--seed", "8", "--videos", "10"])
    assert res.exit_code == 2
    assert res.stderr.strip() == (f"error: {out / 'syntps'}: holds 10 videos of seed 7, not 10 of seed 8; "
                                  "give another --out (or the same --seed and --videos to reuse it)")
    assert not (out / "runs").exists()
