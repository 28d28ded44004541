"""The evaluate and validate commands, end to end through the typer app."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.io import write_json
from tests.oracle.random_tps import noisy_submission, random_ground_truth
from tests.oracle.tps_reference import reference_score

runner = CliRunner()


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(3)
    gv, gp = random_ground_truth(rng, n_videos=12, n_frames=4)
    pv, pp = noisy_submission(rng, gv, gp)
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_json(gt / "gt_vid_result.json", gv)
    write_json(gt / "gt_part_result.json", gp)
    write_json(pred / "pred_vid_result.json", pv)
    write_json(pred / "pred_part_result.json", pp)
    return gt, pred, reference_score(gv, gp, pv, pp), (gv, gp, pv, pp)


def test_evaluate_json_prints_the_official_number(folders):
    gt, pred, ref, _ = folders
    res = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(pred), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["score"] == ref
    assert 0 <= out["video_accuracy"] <= 1 and set(out["part_state_accuracy"]) >= {"head", "hand", "mean"}


def test_evaluate_tables_and_grid(folders):
    gt, pred, ref, _ = folders
    res = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(pred), "--grid"])
    assert res.exit_code == 0, res.output
    assert f"{100 * ref:.4f} %" in res.stdout and "Official grid" in res.stdout


def test_evaluate_threshold_and_matching_options(folders):
    gt, pred, _, dicts = folders
    res = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(pred), "--json", "--human-iou", "0.3",
                              "--part-iou", "0.5", "--matching", "corrected"])
    assert json.loads(res.stdout)["score"] == reference_score(*dicts, 0.3, 0.5, corrected=True)


def test_evaluate_bad_input_is_one_line_and_exit_2(folders, tmp_path):
    gt, pred, _, _ = folders
    (pred / "pred_part_result.json").write_text("{not json")
    res = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(pred)])
    assert res.exit_code == 2
    assert "pred_part_result.json: malformed JSON at line 1" in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(app, ["evaluate", "--gt", str(tmp_path / "missing"), "--pred", str(pred)])
    assert res.exit_code == 2 and "missing: folder not found" in res.stderr


def test_validate_valid_and_invalid(folders):
    gt, pred, _, (gv, gp, pv, pp) = folders
    ok = runner.invoke(app, ["validate", str(pred), "--gt", str(gt)])
    assert ok.exit_code == 0, ok.output
    assert "valid (0 errors" in ok.stderr
    vid = next(iter(pp))
    key = next(iter(pp[vid]))
    pp[vid][key]["humans"].append({"box": [10, 10, 5, 5], "parts": {"head": {"box": [[0, 0, 1, 1]], "verb": "none"}}})
    del pv[next(iter(pv))]
    write_json(pred / "pred_part_result.json", pp)
    write_json(pred / "pred_vid_result.json", pv)
    bad = runner.invoke(app, ["validate", str(pred), "--gt", str(gt)])
    assert bad.exit_code == 2
    person = len(pp[vid][key]["humans"]) - 1
    assert f"[video {vid} / frame {key} / person {person}]: error: box is inverted" in bad.stderr
    assert "part head]: error: a submission part needs 'box' and 'verb' lists" in bad.stderr
    assert "error: video missing (it is in" in bad.stderr and "invalid (" in bad.stderr


def test_validate_malformed_json_file(tmp_path):
    f = tmp_path / "gt_part_result.json"
    f.write_text('{"v": [1, 2')
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 2 and "gt_part_result.json: error: malformed JSON" in res.stderr


def test_the_metric_runs_without_huge_page_advice_unless_asked(monkeypatch):
    multiarray = pytest.importorskip("numpy._core.multiarray")
    from partparse.cli.evaluate import without_huge_page_advice

    before = multiarray._get_madvise_hugepage()
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    with without_huge_page_advice():
        assert multiarray._get_madvise_hugepage() is False
    assert multiarray._get_madvise_hugepage() is before                 # (restored for this process)
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    multiarray._set_madvise_hugepage(True)
    with without_huge_page_advice():
        assert multiarray._get_madvise_hugepage() is True               # the user's choice stands
    multiarray._set_madvise_hugepage(before)
