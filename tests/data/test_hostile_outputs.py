"""Where synth, synth --preview and export-coco write, and what a full or unusable disk does to them
(issue 13, items 2, 7, 16, 18): one line naming the path, exit code 2, nothing written outside --out,
no hidden partial file left behind."""

from __future__ import annotations

import errno
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.synthetic import video_io
from partparse.data.synthetic.video_io import H264Writer, write_video
from partparse.io import InputError, atomic_write, read_json, write_json
from partparse.output_folder import prepare_output_folder

runner = CliRunner()


def _one_line(res, *fragments):
    """Exit code 2 and one error line (a progress bar may have been drawn before it)."""
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("synth ")]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in res.output


def _no_leftovers(folder):
    """No hidden temporary file anywhere under ``folder``."""
    hidden = [p for p in folder.rglob(".*") if p.is_file()]
    assert not hidden, hidden


def _synth(out, *extra):
    return runner.invoke(app, ["synth", "--out", str(out), "--videos", "2", "--frames", "6", "--size", "64x48",
                               "--actions", "2", *map(str, extra)])


# ------------------------------------------------------------------------------------------- the policy
def test_prepare_output_folder_refuses_files_and_non_empty_folders_and_clears_only_what_it_owns(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="file: exists and is not a folder"):
        prepare_output_folder(tmp_path / "file", force=True, owned=())
    out = tmp_path / "out"
    (out / "videos").mkdir(parents=True)
    (out / "videos" / "old.json").write_text("{}")
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="out: folder is not empty"):
        prepare_output_folder(out, force=False, owned=("videos",))
    prepare_output_folder(out, force=True, owned=("videos", "absent.json"))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    with pytest.raises(InputError, match="file/sub: cannot write"):
        prepare_output_folder(tmp_path / "file" / "sub", force=False, owned=())


def test_atomic_write_on_a_full_disk_names_the_file_keeps_the_old_one_and_leaves_no_temp(tmp_path):
    path = write_json(tmp_path / "a.json", {"old": 1})

    def full(fh):
        fh.write("{")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(InputError, match=r"a.json: cannot write: No space left on device"):
        atomic_write(path, full)
    assert read_json(path) == {"old": 1}
    _no_leftovers(tmp_path)


class _FullDisk:
    """An output container whose disk fills up: after ``ok`` packets, or when the trailer is written."""

    def __init__(self, real, ok):
        self.real, self.ok = real, ok

    def add_stream(self, *args, **kwargs):
        return self.real.add_stream(*args, **kwargs)

    def mux(self, packets):
        self.ok -= 1
        if self.ok < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.real.mux(packets)

    def close(self):
        self.real.close()
        if self.ok >= 0:
            raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("ok", [3, 1000])           # a frame fails, or only the trailer does
def test_a_video_on_a_full_disk_leaves_no_hidden_partial_file(tmp_path, monkeypatch, ok):
    real_open = video_io.av.open
    monkeypatch.setattr(video_io.av, "open", lambda *a, **k: _FullDisk(real_open(*a, **k), ok))
    with pytest.raises(InputError, match=r"v.mp4: cannot write: No space left on device"):
        write_video(tmp_path / "v.mp4", [np.zeros((32, 32, 3), np.uint8)] * 8, fps=5)
    assert list(tmp_path.iterdir()) == []


def test_an_overlay_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    from partparse.structures import VideoPrediction
    from partparse.viz.overlay import render_overlay

    src = write_video(tmp_path / "in" / "v.mp4", [np.zeros((32, 32, 3), np.uint8)] * 8, fps=5)
    real_open = video_io.av.open           # (the same av.open the reader uses: only writing fills the disk)
    monkeypatch.setattr(video_io.av, "open", lambda *a, **k: _FullDisk(real_open(*a, **k), 2)
                        if k.get("mode") == "w" else real_open(*a, **k))
    with pytest.raises(InputError, match="cannot write: No space left"):
        render_overlay(src, VideoPrediction("v", "jump", []), tmp_path / "out" / "v.mp4")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_writer_that_cannot_create_its_file_names_it(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="file/v.mp4: cannot write"):
        H264Writer(tmp_path / "file" / "v.mp4", 32, 32, 5)


# ---------------------------------------------------------------------------------------------- synth
def test_synth_force_replaces_the_previous_dataset_and_keeps_other_files(tmp_path):
    out = tmp_path / "ds"
    assert _synth(out, "--seed", 1).exit_code == 0
    first = {p.name for p in out.rglob("*.mp4")}
    (out / "README.txt").write_text("mine")
    _one_line(_synth(out, "--seed", 2), "folder is not empty")
    res = _synth(out, "--seed", 2, "--force")
    assert res.exit_code == 0, res.output
    second = {p.name for p in out.rglob("*.mp4")}
    assert len(second) == 2 and not first & second              # none of the old videos left beside the new
    assert (out / "README.txt").read_text() == "mine"
    gt = read_json(out / "gt_train" / "gt_vid_result.json") | read_json(out / "gt_val" / "gt_vid_result.json")
    assert {f"{v}.mp4" for v in gt} == second
    annotated = ({p.name for p in (out / "train_annotations").glob("*/*")}
                 | {p.name for p in (out / "val_annotations").glob("*/*")})
    assert annotated == set(gt)                                  # no old annotation folders either


def test_synth_out_that_is_a_file_or_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("x")
    _one_line(_synth(tmp_path / "file"), "exists and is not a folder")
    _one_line(_synth(tmp_path / "file" / "ds"), "cannot write")


def test_synth_on_a_full_disk_is_one_line_and_leaves_no_hidden_video(tmp_path, monkeypatch):
    real_open = video_io.av.open
    monkeypatch.setattr(video_io.av, "open", lambda *a, **k: _FullDisk(real_open(*a, **k), 2))
    _one_line(_synth(tmp_path / "ds"), "cannot write: No space left on device")
    _no_leftovers(tmp_path / "ds")


def test_preview_out_that_is_a_folder_or_under_a_file(tiny_dataset, tmp_path):
    vid = next(iter(read_json(tiny_dataset / "gt_train" / "gt_vid_result.json")))
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "dir", tmp_path / "file" / "p.png"):
        res = runner.invoke(app, ["synth", "--preview", str(tiny_dataset / vid), "--out", str(bad)])
        _one_line(res, str(bad), "cannot write")
    _no_leftovers(tmp_path)


# ---------------------------------------------------------------------------------------- export-coco
def _copy(tiny_dataset, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    return root


def _export(root, out, *extra):
    return runner.invoke(app, ["export-coco", str(root), "--out", str(out), "--split", "train", *map(str, extra)])


@pytest.mark.parametrize("bad_id", ["../../escaped", "/tmp/escaped_abs", "sub/dir"])
def test_export_refuses_video_ids_that_are_paths(tiny_dataset, tmp_path, bad_id):
    root = _copy(tiny_dataset, tmp_path)
    gt = root / "gt_train"
    gv, gp = read_json(gt / "gt_vid_result.json"), read_json(gt / "gt_part_result.json")
    vid = next(iter(gv))
    write_json(gt / "gt_vid_result.json", {bad_id if v == vid else v: a for v, a in gv.items()})
    write_json(gt / "gt_part_result.json", {bad_id if v == vid else v: f for v, f in gp.items()})
    out = tmp_path / "a" / "b" / "out"
    _one_line(_export(root, out), "video id")
    assert not out.exists() and not list(tmp_path.rglob("*escaped*"))
    res = runner.invoke(app, ["validate", str(gt)])
    assert res.exit_code == 2 and "video id is not a plain file name" in res.stderr


@pytest.mark.parametrize("margin", ["-5", "nan", "inf"])
def test_export_margin_is_checked_before_anything_is_written(tiny_dataset, tmp_path, margin):
    out = tmp_path / "out"
    _one_line(_export(tiny_dataset, out, "--margin", margin), "--margin must be a finite number >= 0")
    assert not out.exists()


KEYPOINT_FILES = {
    "not an object": [1, 2],
    "images not a list": {"images": 3, "annotations": []},
    "image without id": {"images": [{"file_name": "a.jpg"}], "annotations": []},
    "unknown image": {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 2}]},
    "bbox a string": {"images": [{"id": 1, "file_name": "a.jpg"}],
                      "annotations": [{"image_id": 1, "bbox": "1 2 3 4", "keypoints": [0] * 51}]},
    "keypoints short": {"images": [{"id": 1, "file_name": "a.jpg"}],
                        "annotations": [{"image_id": 1, "bbox": [1, 2, 3, 4], "keypoints": [0] * 50}]},
}


@pytest.mark.parametrize("case", sorted(KEYPOINT_FILES))
def test_export_with_a_malformed_keypoints_file(tiny_dataset, tmp_path, case):
    root = _copy(tiny_dataset, tmp_path)
    (root / "keypoints_train.json").write_text(json.dumps(KEYPOINT_FILES[case]))
    out = tmp_path / "out"
    _one_line(_export(root, out), str(root / "keypoints_train.json"))
    assert not out.exists()                     # checked before the person export wrote its images


def test_export_out_that_is_a_file_or_under_one(tiny_dataset, tmp_path):
    (tmp_path / "file").write_text("x")
    _one_line(_export(tiny_dataset, tmp_path / "file", "--what", "persons"), "exists and is not a folder")
    _one_line(_export(tiny_dataset, tmp_path / "file" / "out", "--what", "persons"), "cannot write")


def test_export_on_a_full_disk_is_one_line(tiny_dataset, tmp_path, monkeypatch):
    import partparse.io as io_module

    out = tmp_path / "out"
    out.mkdir()
    calls = {"n": 0}
    real_fsync = io_module.os.fsync

    def fsync_then_full(fd):                      # the folder check passes, the third image fills the disk
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(io_module.os, "fsync", fsync_then_full)
    _one_line(_export(tiny_dataset, out, "--what", "persons"), "cannot write: No space left on device")
    _no_leftovers(out)


def test_export_without_the_keypoints_the_pose_export_needs_writes_nothing(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    (root / "keypoints_train.json").unlink()
    out = tmp_path / "out"
    _one_line(_export(root, out), f"{root / 'keypoints_train.json'}: file not found")
    assert not out.exists()                     # not the person images first, then the error
    assert _export(root, out, "--what", "persons", "--what", "parts").exit_code == 0


@pytest.mark.parametrize("split", ["../../../escaped", "train/../x", "", "."])
def test_export_split_must_be_a_plain_name(tiny_dataset, tmp_path, split):
    out = tmp_path / "a" / "out"
    res = runner.invoke(app, ["export-coco", str(tiny_dataset), "--out", str(out), "--split", split])
    _one_line(res, "--split must be a plain name")
    assert not list(tmp_path.rglob("*"))                     # nothing anywhere


def test_preview_of_a_video_outside_a_dataset_is_one_line(tmp_path, monkeypatch):
    write_video(tmp_path / "a.mp4", [np.zeros((32, 32, 3), np.uint8)] * 4, fps=5)
    monkeypatch.chdir(tmp_path)                              # "a.mp4": no dataset folders above it
    _one_line(runner.invoke(app, ["synth", "--preview", "a.mp4", "--out", "p.png"]), "a.mp4: not a video of a dataset")


def test_force_never_removes_anything_through_a_link_out_of_the_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "body_part.txt").write_text("precious")
    out = tmp_path / "ds"
    out.mkdir()
    (out / "list").symlink_to(elsewhere)
    with pytest.raises(InputError, match="lies outside"):
        prepare_output_folder(out, force=True, owned=("list/body_part.txt",))
    assert (elsewhere / "body_part.txt").read_text() == "precious"
    (out / "videos").symlink_to(elsewhere)                   # a link in an owned name: the link goes
    (out / "list").unlink()
    prepare_output_folder(out, force=True, owned=("videos",))
    assert not (out / "videos").exists() and (elsewhere / "body_part.txt").read_text() == "precious"
