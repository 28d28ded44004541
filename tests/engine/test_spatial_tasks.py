"""YOLOF and HRNet training end to end on a tiny SynTPS COCO export, through `partparse train`, and
`load_trained` round trips (detection, pose, video)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.config import save_recipe
from partparse.data.synthetic.export_coco import export_part_detection, export_person_detection, export_pose
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.engine.checkpoint import checkpoint_of
from partparse.engine.trained_models import load_trained
from partparse.io import InputError, write_json

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is faster than two, and far faster on a busy machine (no OpenMP waits)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory):
    """3 training and 1 validation video of 16 frames at 160x120 (4 annotated frames each), exported."""
    root = tmp_path_factory.mktemp("syntps")
    generate_dataset(SynthConfig(videos=4, seed=3, actions=2, width=160, height=120, frames=16, val_fraction=0.25),
                     root / "data")
    out = root / "coco"
    for split in ("train", "val"):
        export_person_detection(root / "data", split, out)
        export_part_detection(root / "data", split, out)
        export_pose(root / "data", split, out)
    return out


SMOKE = ["train.max_iters_per_epoch=2", "train.batch_size=2", "train.val_batch_size=2", "train.num_workers=0",
         "schedule.epochs=1", "schedule.milestones=[1]", "schedule.warmup_iters=1"]


def _train(recipe: Path, root: Path, work: Path, *sets: str):
    args = ["train", "--recipe", str(recipe), "--no-progress"]
    for s in [f"data.root={root}", f"train.work_dir={work}", *SMOKE, *sets]:
        args += ["--set", s]
    return CliRunner().invoke(app, args)


def _metrics(work: Path) -> dict:
    result = json.loads((work / "coco_metrics.json").read_text())
    events = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert any(e["event"] == "train" for e in events) and (work / "latest.pth").is_file()
    return result


def _same_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["model"]
    ours = model.state_dict()
    assert set(saved) == set(ours)
    for k, v in saved.items():
        torch.testing.assert_close(ours[k], v, msg=k)


def test_person_detector_trains_evaluates_and_loads_back(tiny_coco, tmp_path):
    res = _train(CONFIGS / "yolof" / "yolof_r18_persons_syntps_cpu.yaml", tiny_coco, tmp_path,
                 "input.min_size=64", "input.max_size=96")
    assert res.exit_code == 0, res.output
    result = _metrics(tmp_path)
    assert result["task"] == "detection" and {"AP", "AP50", "AP/person", "AP50/person"} <= set(result["metrics"])
    assert all(0.0 <= v <= 1.0 for v in result["metrics"].values())
    assert "COCO box metrics" in res.stdout and "person" in res.stdout
    model, recipe, _ = load_trained(tmp_path)
    assert recipe.task == "detection" and recipe.model.class_names == ["person"] and not model.training
    _same_weights(model, checkpoint_of(tmp_path)[1])  # best.pth, or latest.pth when AP never rose
    model2, _, _ = load_trained(tmp_path / "latest.pth")
    _same_weights(model2, tmp_path / "latest.pth")
    frame = torch.rand(3, 120, 160)
    out = model([frame])[0]
    assert out["boxes"].shape[1] == 4 and len(out["boxes"]) == len(out["scores"]) == len(out["labels"])


def test_pose_guided_part_detector_trains(tiny_coco, tmp_path):
    res = _train(CONFIGS / "yolof" / "yolof_r18_parts_syntps_cpu.yaml", tiny_coco, tmp_path,
                 "input.min_size=48", "input.max_size=96", "model.load_from=null")
    assert res.exit_code == 0, res.output
    result = _metrics(tmp_path)
    assert {"AP/head", "AP/left_hand", "AP/right_foot"} <= set(result["metrics"])
    _, recipe, _ = load_trained(tmp_path)
    assert recipe.data.pose_guidance and len(recipe.model.class_names) == 10


def test_pose_estimator_trains_and_reports_keypoint_ap(tiny_coco, tmp_path):
    res = _train(CONFIGS / "hrnet" / "hrnet_w18_small_syntps_cpu.yaml", tiny_coco, tmp_path,
                 "train.batch_size=4")
    assert res.exit_code == 0, res.output
    result = _metrics(tmp_path)
    assert result["task"] == "pose" and {"AP", "AP50", "AR"} <= set(result["metrics"])
    assert "keypoint (OKS)" in res.stdout
    model, recipe, _ = load_trained(tmp_path)
    assert recipe.task == "pose" and model.config.codec.input_size == (128, 96) and model.config.flip_test
    _same_weights(model, checkpoint_of(tmp_path)[1])  # best.pth, or latest.pth when AP never rose


def test_video_model_loads_back_with_its_label_spaces(tmp_path):
    from partparse.data.part_labels import LabelSpace
    from partparse.engine.model_builders import build_video_model
    from partparse.engine.video_recipe import VideoRecipe
    from partparse.models.weights import save_checkpoint

    recipe = VideoRecipe(name="csn_tiny")
    recipe.model.depth, recipe.model.frozen_bn = 26, False
    spaces = {"action": LabelSpace(["jump", "run", "wave"]), "hand": LabelSpace(["jump_Hand_fist", "run_Hand_none"])}
    torch.manual_seed(0)
    model = build_video_model(recipe, spaces)
    save_recipe(recipe, tmp_path / "recipe.yaml")
    write_json(tmp_path / "label_spaces.json", {h: s.to_list() for h, s in spaces.items()})
    save_checkpoint(tmp_path / "latest.pth", {"model": model.state_dict(), "epoch": 0})
    loaded, loaded_recipe, _ = load_trained(tmp_path)
    assert loaded_recipe.task == "video" and loaded_recipe.model.depth == 26
    _same_weights(loaded, tmp_path / "latest.pth")
    x = torch.rand(1, 3, 4, 32, 32)
    out = loaded(x)
    assert out["action"].shape == (1, 3) and out["hand"].shape == (1, 2)


def test_load_trained_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="no best.pth or latest.pth"):
        load_trained(tmp_path)
    (tmp_path / "latest.pth").write_bytes(b"junk")
    with pytest.raises(InputError, match="recipe.yaml: recipe not found"):
        load_trained(tmp_path)
    (tmp_path / "recipe.yaml").write_text("task: segmentation\n")
    with pytest.raises(InputError, match="unknown task 'segmentation'"):
        load_trained(tmp_path / "latest.pth")
    (tmp_path / "recipe.yaml").write_text("task: pose\nmodel:\n  arch: hrnet_w18_small\n")
    with pytest.raises(InputError, match="not a readable partparse checkpoint"):
        load_trained(tmp_path)
    torch.save({"model": {"final_layer.weight": torch.zeros(1)}}, tmp_path / "latest.pth")
    with pytest.raises(InputError, match="does not match the model"):
        load_trained(tmp_path)
    with pytest.raises(InputError, match="expected a training work dir or a .pth"):
        load_trained(tmp_path / "recipe.yaml")


def test_part_detector_starts_from_a_trained_person_detector(tmp_path):
    from partparse.config import load_recipe
    from partparse.engine.detection_recipe import DetectionRecipe
    from partparse.engine.model_builders import build_detection_model
    from partparse.models.weights import save_checkpoint

    persons = load_recipe(CONFIGS / "yolof" / "yolof_r18_persons_syntps_cpu.yaml", DetectionRecipe)
    torch.manual_seed(1)
    person_model = build_detection_model(persons)
    save_recipe(persons, tmp_path / "recipe.yaml")
    save_checkpoint(tmp_path / "latest.pth", {"model": person_model.state_dict()})
    parts = load_recipe(CONFIGS / "yolof" / "yolof_r18_parts_syntps_cpu.yaml", DetectionRecipe,
                        [f"model.load_from={tmp_path}"])
    torch.manual_seed(2)
    part_model = build_detection_model(parts)
    ours, theirs = part_model.state_dict(), person_model.state_dict()
    for key in ("backbone.layer4.1.conv2.weight", "encoder.blocks.3.conv3.0.weight", "head.bbox_pred.weight"):
        torch.testing.assert_close(ours[key], theirs[key])
    assert ours["head.cls_score.weight"].shape[0] == 10 * theirs["head.cls_score.weight"].shape[0]
    with pytest.raises(InputError, match="expected a training work dir or a .pth"):
        build_detection_model(load_recipe(CONFIGS / "yolof" / "yolof_r18_parts_syntps_cpu.yaml", DetectionRecipe,
                                          [f"model.load_from={tmp_path / 'nothing'}"]))


def test_pose_model_continues_from_a_pose_run_or_the_zoo(tmp_path):
    # model.load_from: a second training stage starts from every tensor of a finished pose run
    from partparse.config import load_recipe
    from partparse.engine.checkpoint import read_model_state
    from partparse.engine.model_builders import build_pose_model
    from partparse.engine.pose_recipe import PoseRecipe

    recipe = CONFIGS / "hrnet" / "hrnet_w18_small_pose_syntps_bench.yaml"
    torch.manual_seed(3)
    model = build_pose_model(load_recipe(recipe, PoseRecipe, ["model.load_from=zoo:syntps/pose"]))
    zoo = read_model_state(checkpoint_of("zoo:syntps/pose")[1])
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, zoo[key].to(value.dtype), msg=key)
    fresh = build_pose_model(load_recipe(recipe, PoseRecipe)).state_dict()   # without it: other weights
    assert any(not torch.equal(v, zoo[k].to(v.dtype)) for k, v in fresh.items() if v.is_floating_point())
    with pytest.raises(InputError, match="checkpoint not found"):
        build_pose_model(load_recipe(recipe, PoseRecipe, [f"model.load_from={tmp_path / 'no.pth'}"]))


@pytest.mark.parametrize("overrides, message", [
    (["input.input_size=[192, 144]", "model.heatmap_size=[48, 36]"],
     "input.input_size must be multiples of 32 for HRNet, got \\[192, 144\\]"),
    (["input.input_size=[160, 128]"],
     "model.heatmap_size must be input.input_size / 4 = \\[40, 32\\], got \\[32, 24\\]"),
])
def test_pose_recipes_whose_sizes_hrnet_cannot_take_are_refused_naming_the_file(overrides, message):
    from partparse.config import load_recipe
    from partparse.engine.pose_recipe import PoseRecipe

    recipe = CONFIGS / "hrnet" / "hrnet_w18_small_pose_syntps_bench.yaml"
    with pytest.raises(InputError, match=f"^{recipe}: {message}$"):
        load_recipe(recipe, PoseRecipe, overrides)
