"""``partparse train`` against careless and hostile use (issue 13): reruns into a finished run, mismatched
resumes, planted checkpoints, bad values, unwritable work dirs, workers, seeds."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from tests.engine.test_checkpoint_safety import plant_checkpoint

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "csn" / "ir_csn_26_syntps_cpu.yaml"


@pytest.fixture(scope="module")
def syntps(tmp_path_factory):
    root = tmp_path_factory.mktemp("syntps")
    generate_dataset(SynthConfig(videos=8, seed=3, actions=3, width=96, height=64, frames=24, val_fraction=0.25), root)
    return root


def _sets(root: Path, work: Path, *extra: str) -> list[str]:
    sets = [f"data.root={root}", f"train.work_dir={work}", "schedule.epochs=1", "schedule.milestones=[1]",
            "train.max_iters_per_epoch=2", "train.batch_size=2", "train.val_batch_size=2", "train.num_workers=0",
            "train.log_interval=1", "clips.clip_len=4", "clips.frame_interval=2", "clips.num_test_clips=1",
            "clips.short_side=64", "clips.crop_size=48", "clips.test_crop_size=48", "clips.test_crop=center",
            "data.cache_frames=false", *extra]
    return [a for s in sets for a in ("--set", s)]


def _train(root: Path, work: Path, *extra: str, flags: tuple[str, ...] = ()):
    return CliRunner().invoke(app, ["train", "--recipe", str(RECIPE), "--no-progress", *flags,
                                    *_sets(root, work, *extra)])


def _one_line_error(res, *parts: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def _snapshot(work: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(work.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def finished(syntps, tmp_path_factory):
    """A finished one-epoch run (validated, so it has best.pth)."""
    work = tmp_path_factory.mktemp("runs") / "finished"
    res = _train(syntps, work, "train.val_interval=1")
    assert res.exit_code == 0, res.output
    return work


def test_a_rerun_into_a_finished_run_is_refused_without_force(syntps, finished):
    before = _snapshot(finished)
    res = _train(syntps, finished)
    _one_line_error(res, f"train.work_dir {finished}: holds a training run", "--resume continues it", "--force")
    assert _snapshot(finished) == before


def test_force_starts_the_run_again_from_clean(syntps, finished, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(finished, work)
    (work / "notes.txt").write_text("mine")
    old_events = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert (work / "best.pth").exists() and any(e["event"] == "val" for e in old_events)
    res = _train(syntps, work, "train.val_interval=5", flags=("--force",))   # no validation: no new best.pth
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["train", "train"]                # nothing appended to the old log
    assert not (work / "best.pth").exists()                                  # the old best did not survive
    assert (work / "notes.txt").read_text() == "mine"                        # only the run's files went
    assert _one_line_error(_train(syntps, work, flags=("--force", "--resume")), "give one of them")


@pytest.mark.parametrize("extra, message", [
    (("model.depth=50",), "does not match this recipe's model or optimiser"),
    (("data.heads=[action, hand]",), "label_spaces.json: differs from this recipe's"),
    (("optim.name=adam",), "does not match this recipe's model or optimiser"),
])
def test_a_mismatched_resume_writes_nothing(syntps, finished, tmp_path, extra, message):
    work = tmp_path / "run"
    shutil.copytree(finished, work)
    before = _snapshot(work)
    res = _train(syntps, work, *extra, flags=("--resume",))
    _one_line_error(res, message)
    assert _snapshot(work) == before
    from partparse.engine.trained_models import load_trained

    load_trained(work)                                                       # the finished run still loads


def test_a_planted_checkpoint_does_not_run_on_resume_nor_on_a_demo_rerun(syntps, tmp_path):
    from rich.console import Console

    from partparse.cli.demo import _train_stage
    from partparse.io import InputError

    marker = tmp_path / "pwned"
    work = tmp_path / "handed_over"
    work.mkdir()
    plant_checkpoint(work / "latest.pth", marker)
    res = _train(syntps, work, flags=("--resume",))
    _one_line_error(res, "latest.pth: checkpoint holds Python objects beyond tensors")
    with pytest.raises(InputError, match="checkpoint holds Python objects beyond tensors"):   # no done.json: resumed
        _train_stage("ir_csn", RECIPE, syntps, work, _sets(syntps, work)[1::2][2:], Console(quiet=True))
    assert not marker.exists()
    assert sorted(p.name for p in work.iterdir()) == ["latest.pth"]


@pytest.mark.parametrize("override, field", [
    ("train.batch_size=0", "train.batch_size"), ("train.val_interval=0", "train.val_interval"),
    ("train.log_interval=0", "train.log_interval"), ("train.num_workers=-1", "train.num_workers"),
    ("optim.lr=-1", "optim.lr"), ("optim.lr=.nan", "optim.lr"), ("clips.clip_len=0", "clips.clip_len"),
    ("clips.crop_size=0", "clips.crop_size"), ("model.depth=27", "model.depth"),
    ("clips.short_side=100000", "clips.short_side"), ("schedule.epochs=-1", "schedule.epochs"),
    ("data.heads=[bogus]", "data.heads[0]"),
])
def test_bad_recipe_values_are_one_line_before_anything_is_written(syntps, tmp_path, override, field):
    res = _train(syntps, tmp_path / "w", override)
    _one_line_error(res, f"{RECIPE}.{field}: must be")
    assert not (tmp_path / "w").exists()


def test_bad_set_values_task_changes_and_non_utf8_recipes_are_one_line(syntps, tmp_path):
    _one_line_error(_train(syntps, tmp_path / "w", "parser.top_k_persons=[1,2"), "malformed YAML")
    _one_line_error(_train(syntps, tmp_path / "w", "task=pose"), "task 'pose', expected 'video'")
    assert not (tmp_path / "w").exists()
    bad = tmp_path / "r.yaml"
    bad.write_bytes(b"task: video\nname: caf\xe9\n")
    _one_line_error(CliRunner().invoke(app, ["train", "--recipe", str(bad)]), f"{bad}: not UTF-8 text")


def test_unusable_work_dirs_are_one_line(syntps, tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _one_line_error(_train(syntps, afile), f"train.work_dir {afile}: exists and is not a folder")
    _one_line_error(_train(syntps, afile / "sub"), f"train.work_dir {afile / 'sub'}: {afile} is not a folder")
    monkeypatch.setattr("partparse.engine.work_dir.writable", lambda folder: False)  # as root, chmod cannot tell
    _one_line_error(_train(syntps, tmp_path / "ro" / "w"), "is not writable")
    monkeypatch.undo()

    def full_disk(path, write, mode="w"):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("partparse.config.atomic_write", full_disk)
    _one_line_error(_train(syntps, tmp_path / "full"), "recipe.yaml: No space left on device")


def test_a_bad_video_in_a_dataloader_worker_is_one_line(syntps, tmp_path):
    root = tmp_path / "syntps"
    shutil.copytree(syntps, root)
    for video in sorted((root / "train_videos").rglob("*.mp4")):
        video.write_bytes(b"\x00" * 100)
    res = _train(root, tmp_path / "w", "train.num_workers=1")
    line = _one_line_error(res)
    assert ".mp4" in line and "Traceback" not in line and "worker" not in line


def test_one_seed_gives_one_run(syntps, tmp_path):
    """train.seed is set before the model is built: two runs agree from iteration 1, whatever the global RNG
    state before them; another seed gives another run."""
    losses = {}
    for name, seed, noise in (("a", 7, 1), ("b", 7, 2), ("c", 8, 1)):
        torch.manual_seed(noise)                       # what ran before in the process must not matter
        res = _train(syntps, tmp_path / name, f"train.seed={seed}")
        assert res.exit_code == 0, res.output
        first = json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])
        assert first["iteration"] == 1
        losses[name] = first["loss"]
    assert losses["a"] == losses["b"] != losses["c"]
    a, b = (torch.load(tmp_path / n / "latest.pth", weights_only=True)["model"] for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_crops_larger_than_the_frames_are_refused_before_training(syntps, tmp_path):
    res = _train(syntps, tmp_path / "w", "clips.test_crop=three", "clips.test_crop_size=80")
    _one_line_error(res, "clips.test_crop_size 80 is larger than clips.short_side 64")
    res = _train(syntps, tmp_path / "w", "clips.train_crop=random", "clips.crop_size=65")
    _one_line_error(res, "clips.crop_size 65 is larger than clips.short_side 64")
    assert not (tmp_path / "w").exists()
