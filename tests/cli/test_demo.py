"""`partparse demo` end to end at the smoke budget: every stage trains, Table 1 is parsed and scored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.tps_format import PRED_VID_FILE
from partparse.experiments.ablation import TABLE1


@pytest.mark.slow
def test_demo_smoke_budget_writes_table1_overlay_and_report(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--videos", "10", "--parse-videos", "2",
                                   "--budget", "smoke", "--workers", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "demo_summary.json").read_text())
    assert [r["row"] for r in summary["table1"]] == [r.name for r in TABLE1]
    assert all(0.0 <= r["score"] <= 1.0 for r in summary["table1"])
    for stage in ("persons", "pose", "parts_guided", "parts_plain", "ir_csn", "ip_csn"):
        assert (out / "runs" / stage / "latest.pth").is_file()
    assert list((out / "overlays").glob("*.mp4")) and (out / "report.html").stat().st_size > 1000
    assert (out / "submission" / PRED_VID_FILE).is_file()


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
