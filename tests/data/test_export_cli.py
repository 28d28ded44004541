"""`partparse export-coco` on the tiny SynTPS dataset."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from partparse.cli import app


def test_export_coco_writes_the_three_files(tiny_dataset, tmp_path):
    res = CliRunner().invoke(app, ["export-coco", str(tiny_dataset), "--out", str(tmp_path), "--split", "train"])
    assert res.exit_code == 0, res.output
    persons = json.loads((tmp_path / "persons_train.json").read_text())
    parts = json.loads((tmp_path / "parts_train.json").read_text())
    assert len(parts["images"]) == len(persons["annotations"])      # one crop per GT person
    assert [c["name"] for c in parts["categories"]][:2] == ["head", "hip"]
    bad = CliRunner().invoke(app, ["export-coco", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "folder not found" in bad.stderr
