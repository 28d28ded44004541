"""The CPU levers of the video recipes: RGB differences, person-centred clips, AdamW + cosine, and the
same clips at parse time as in training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.config import load_recipe
from partparse.data.person_window import box_areas
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.engine.optim import OptimConfig, ScheduleConfig, build_optimizer, lr_factor
from partparse.engine.video_recipe import VideoRecipe
from partparse.engine.video_task import build_video_datasets, keyframe_person_boxes, split_annotations
from partparse.pipeline.video_scorers import CSNVideoScorer, VideoScorerConfig
from tests.engine.tiny_task import make_model

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "csn" / "ir_csn_26_syntps_bench.yaml"
SMALL = ["clips.clip_len=4", "clips.frame_interval=2", "clips.num_test_clips=2", "clips.short_side=40",
         "clips.crop_size=32", "clips.test_crop_size=32"]


@pytest.fixture(scope="module")
def tiny_syntps(tmp_path_factory):
    root = tmp_path_factory.mktemp("syntps")
    generate_dataset(SynthConfig(videos=6, seed=4, actions=3, width=96, height=64, frames=24, val_fraction=0.34), root)
    return root


def _recipe(root: Path, *extra: str) -> VideoRecipe:
    return load_recipe(RECIPE, VideoRecipe, [f"data.root={root}", f"data.val_root={root}", *SMALL, *extra])


def test_cosine_schedule_and_adamw():
    cfg = ScheduleConfig(epochs=10, warmup_iters=0, policy="cosine")
    assert lr_factor(0, 100, cfg) == 1.0
    assert lr_factor(500, 100, cfg) == pytest.approx(0.5)
    assert lr_factor(250, 100, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(1000, 100, cfg) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="policy must be 'step' or 'cosine'"):
        lr_factor(0, 10, ScheduleConfig(policy="linear"))
    opt = build_optimizer(make_model(), OptimConfig(name="adamw", lr=2e-3, weight_decay=0.05))
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.05


def test_person_centred_difference_clips_have_the_model_shape(tiny_syntps):
    train, val, spaces = build_video_datasets(_recipe(tiny_syntps))
    item = train[0]
    assert item["inputs"].shape == (3, 4, 32, 32)                  # (C, T, crop, crop): differences of 4 pairs
    assert item["frame_inds"].shape == (1, 8)                       # each sampled frame with its partner
    inds = item["frame_inds"][0]
    assert torch.all(inds[1::2] - inds[0::2] == 2)
    assert val[0]["inputs"].shape == (2, 3, 4, 32, 32)              # 2 test clips, centre crop
    assert set(spaces) == {"action", "head", "hand", "arm", "hip", "leg", "foot"}


def test_parse_time_clips_equal_validation_clips_for_the_same_boxes(tiny_syntps):
    """The scorer cuts its window from the parser's boxes with the rule training used on GT boxes: given
    the GT boxes (scored by area, as training anchors them) its clips are the validation clips."""
    recipe = _recipe(tiny_syntps)
    _, val, _ = build_video_datasets(recipe)
    path = val.videos[0][0]
    boxes = keyframe_person_boxes(split_annotations(tiny_syntps, "val")[1])[path.stem]
    scorer = CSNVideoScorer(torch.nn.Identity(), {}, VideoScorerConfig.from_clip_config(recipe.clips))
    clips = scorer.clips(str(path), [(b, box_areas(b)) for b in boxes])
    torch.testing.assert_close(clips, val[0]["inputs"])
    whole = scorer.clips(str(path), None)                           # no persons: the whole frame, squeezed
    assert whole.shape == clips.shape and not torch.equal(whole, clips)


def test_rgb_recipe_is_one_switch_away(tiny_syntps):
    train, _, _ = build_video_datasets(_recipe(tiny_syntps, "clips.modality=rgb", "clips.person_centred=false"))
    item = train[0]
    assert item["frame_inds"].shape == (1, 4) and item["inputs"].shape == (3, 4, 32, 32)
    assert train.person_boxes is None


def test_train_the_bench_recipe_for_two_steps(tiny_syntps, tmp_path):
    sets = [*SMALL, f"data.root={tiny_syntps}", f"data.val_root={tiny_syntps}", f"train.work_dir={tmp_path}",
            "schedule.epochs=1", "train.max_iters_per_epoch=2", "train.batch_size=2", "train.val_batch_size=2",
            "schedule.warmup_iters=1"]
    res = CliRunner().invoke(app, ["train", "--recipe", str(RECIPE), "--no-progress"]
                             + [a for s in sets for a in ("--set", s)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "latest.pth").is_file() and (tmp_path / "label_spaces.json").is_file()
    losses = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"val"' in line]
    assert losses and np.isfinite(float(losses[-1].split('"top1_action": ')[1].split(",")[0]))


def test_load_from_a_run_maps_head_rows_by_class_name(tiny_syntps, tmp_path):
    # a finished run (two steps), then a model whose label spaces drop one class, add a new one and
    # reorder: the backbone is copied, each known class's row lands in its new row, the new one stays
    from partparse.data.part_labels import LabelSpace, read_label_spaces
    from partparse.engine.checkpoint import read_model_state
    from partparse.engine.model_builders import build_video_model, load_video_run

    run = tmp_path / "run"
    sets = [*SMALL, f"data.root={tiny_syntps}", f"data.val_root={tiny_syntps}", f"train.work_dir={run}",
            "schedule.epochs=1", "train.max_iters_per_epoch=1", "train.batch_size=2", "train.val_batch_size=2",
            "schedule.warmup_iters=1"]
    assert CliRunner().invoke(app, ["train", "--recipe", str(RECIPE), "--no-progress"]
                              + [a for s in sets for a in ("--set", s)]).exit_code == 0
    theirs = read_label_spaces(run / "label_spaces.json")
    state = read_model_state(run / "latest.pth")
    old = theirs["action"]
    assert len(old) >= 2
    spaces = {h: LabelSpace(names) for h, names in theirs.items()}
    spaces["action"] = LabelSpace([*old[1:], "zz_new_action"])     # drops old[0], sorted: new one last
    torch.manual_seed(0)
    model = build_video_model(_recipe(tiny_syntps), spaces)
    fresh = model.heads["action"].fc.weight.detach().clone()
    report = load_video_run(model, run, spaces)
    weight = model.heads["action"].fc.weight.detach()
    for new, name in enumerate(spaces["action"].names):
        if name in old:
            assert torch.equal(weight[new], state["heads.action.fc.weight"][old.index(name)])
        else:
            assert torch.equal(weight[new], fresh[new])
    some = next(k for k in state if k.startswith("backbone.") and state[k].dtype.is_floating_point)
    assert torch.equal(model.state_dict()[some], state[some]) and some in report.loaded
    for head in ("head", "foot"):  # unchanged label spaces: the heads are copied whole
        assert torch.equal(model.heads[head].fc.bias.detach(), state[f"heads.{head}.fc.bias"])


def test_load_from_a_missing_run_is_one_line(tiny_syntps, tmp_path):
    from partparse.data.part_labels import LabelSpace
    from partparse.engine.model_builders import build_video_model
    from partparse.io import InputError

    recipe = _recipe(tiny_syntps, f"model.load_from={tmp_path / 'nope.pth'}")
    with pytest.raises(InputError, match="nope.pth: checkpoint not found"):
        build_video_model(recipe, {"action": LabelSpace(["a", "b"])})
