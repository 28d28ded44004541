"""COCO exports, the contact sheet and the ``partparse synth`` command."""

from __future__ import annotations

import pytest
import typer
from PIL import Image
from pycocotools.coco import COCO
from typer.testing import CliRunner

from partparse.cli.synth import synth
from partparse.data.synthetic.export_coco import export_part_detection, export_person_detection, export_pose
from partparse.data.synthetic.preview import contact_sheet
from partparse.io import InputError, read_json


def _n_humans(root, split="train"):
    part = read_json(root / f"gt_{split}" / "gt_part_result.json")
    return sum(len(f["humans"]) for fr in part.values() for f in fr.values()), \
        sum(len(fr) for fr in part.values()), \
        sum(len(h["parts"]) for fr in part.values() for f in fr.values() for h in f["humans"])


def test_person_detection_export_loads_with_pycocotools(tiny_dataset, tiny_config, tmp_path):
    path = export_person_detection(tiny_dataset, "train", tmp_path)
    coco = COCO(str(path))
    humans, frames, _ = _n_humans(tiny_dataset)
    assert len(coco.getImgIds()) == frames and len(coco.getAnnIds()) == humans
    img = coco.loadImgs(coco.getImgIds()[0])[0]
    with Image.open(tmp_path / "images" / img["file_name"]) as im:
        assert im.size == (tiny_config.width, tiny_config.height)
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann["bbox"]
        assert x + w <= tiny_config.width and y + h <= tiny_config.height


def test_part_detection_export_uses_person_crops_with_a_margin(tiny_dataset, tmp_path):
    path = export_part_detection(tiny_dataset, "train", tmp_path, margin=0.2)
    coco = COCO(str(path))
    humans, _, parts = _n_humans(tiny_dataset)
    assert len(coco.getImgIds()) == humans and len(coco.getAnnIds()) == parts
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())][:2] == ["head", "hip"]
    for img in coco.loadImgs(coco.getImgIds()):
        with Image.open(tmp_path / "crops" / img["file_name"]) as im:
            assert im.size == (img["width"], img["height"])
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            x, y, w, h = ann["bbox"]
            assert 0 <= x and 0 <= y and x + w <= img["width"] and y + h <= img["height"]


def test_pose_export_loads_with_pycocotools(tiny_dataset, tmp_path):
    path = export_pose(tiny_dataset, "val", tmp_path)
    coco = COCO(str(path))
    humans, frames, _ = _n_humans(tiny_dataset, "val")
    assert len(coco.getImgIds()) == frames and len(coco.getAnnIds()) == humans
    assert len(coco.loadCats(1)[0]["keypoints"]) == 17
    for img in coco.loadImgs(coco.getImgIds()):
        assert (tmp_path / "images" / img["file_name"]).is_file()


def test_contact_sheet_writes_a_png(tiny_dataset, tmp_path):
    vid = next(iter(read_json(tiny_dataset / "gt_val" / "gt_vid_result.json")))
    png = contact_sheet(tiny_dataset, vid, tmp_path / "sheet.png", columns=2)
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] >= 2 * 160 and im.size[1] > 2 * 120
    with pytest.raises(InputError, match="no video"):
        contact_sheet(tiny_dataset, "nope", tmp_path / "x.png")


@pytest.fixture()
def cli():
    app = typer.Typer()
    app.command()(synth)
    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


def test_cli_generates_previews_and_reports_errors_with_exit_code_2(cli, tiny_dataset, tmp_path):
    out = tmp_path / "ds"
    result = cli("--out", out, "--videos", 2, "--frames", 6, "--size", "96x72", "--actions", 2, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert read_json(out / "synth_config.json")["width"] == 96
    result = cli("--out", out, "--videos", 2)
    assert result.exit_code == 2 and "not empty" in result.output
    result = cli("--out", tmp_path / "bad", "--size", "96by72")
    assert result.exit_code == 2 and "WIDTHxHEIGHT" in result.output
    vid = next(iter(read_json(tiny_dataset / "gt_train" / "gt_vid_result.json")))
    result = cli("--preview", tiny_dataset / vid, "--out", tmp_path / "p.png")
    assert result.exit_code == 0 and (tmp_path / "p.png").is_file()
    result = cli("--preview", tiny_dataset / "missing_video")
    assert result.exit_code == 2 and "no video" in result.output
