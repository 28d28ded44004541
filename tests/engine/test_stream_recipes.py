"""The SynTPS-bench recipes: every value parses, the stream fields pick the training data, and a stream
recipe trains a couple of steps through ``partparse train`` against a COCO validation export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from partparse.cli import app
from partparse.config import load_recipe, read_recipe_dict
from partparse.data.coco_detection import COCODetectionDataset
from partparse.data.synthetic.export_coco import export_part_detection, export_person_detection, export_pose
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.data.syntps_stream import SynTPSPartStream, SynTPSPersonStream, SynTPSPoseStream, render_stream_frame
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.detection_task import build_detection_datasets
from partparse.engine.estimated_keypoints import PoseModelKeypoints
from partparse.engine.model_builders import build_detection_model
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.pose_task import build_pose_datasets
from partparse.engine.tasks import recipe_class
from partparse.io import InputError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BENCH = sorted(CONFIGS.glob("*/*_syntps_bench.yaml"))


@pytest.fixture(scope="module")
def tiny_val(tmp_path_factory):
    """One validation video of 8 frames at 320x240, exported for persons, parts and pose."""
    root = tmp_path_factory.mktemp("bench")
    generate_dataset(SynthConfig(videos=2, seed=3, actions=2, frames=8, val_fraction=0.5), root / "data")
    out = root / "coco"
    export_person_detection(root / "data", "val", out)
    export_part_detection(root / "data", "val", out)
    export_pose(root / "data", "val", out)
    return out


def _dataclass_keys(cfg, prefix=""):
    from dataclasses import fields, is_dataclass
    keys = set()
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        keys |= _dataclass_keys(value, f"{prefix}{f.name}.") if is_dataclass(value) else {f"{prefix}{f.name}"}
    return keys


def _yaml_keys(data, prefix=""):
    keys = set()
    for k, v in data.items():
        keys |= _yaml_keys(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}"}  # {}: a dict field
    return keys


@pytest.mark.parametrize("path", BENCH, ids=lambda p: p.name)
def test_bench_recipes_write_every_value_out(path):
    assert len(BENCH) >= 3
    data = read_recipe_dict(path)
    recipe = load_recipe(path, recipe_class(data["task"]))
    assert _yaml_keys(data) == _dataclass_keys(recipe)
    if data["task"] == "video":   # trained on a pool of another seed, validated on the bench
        assert "bench" not in recipe.data.root and "bench" in recipe.data.val_root
    else:
        assert recipe.data.train_source == "syntps_stream" and recipe.data.stream.seed != 2021   # never the bench seed


def _bench(name: str, cls, root: Path, **data):
    recipe = load_recipe(CONFIGS / name, cls, [f"data.root={root}"] + [f"data.{k}={v}" for k, v in data.items()])
    return recipe


def test_train_source_picks_the_stream_view(tiny_val):
    persons = _bench("yolof/yolof_r18w16_persons_syntps_bench.yaml", DetectionRecipe, tiny_val)
    train, val = build_detection_datasets(persons)
    assert isinstance(train, SynTPSPersonStream) and isinstance(val, COCODetectionDataset)
    parts = _bench("yolof/yolof_r18w16s16_parts_guided_syntps_bench.yaml", DetectionRecipe, tiny_val)
    train, _ = build_detection_datasets(parts)
    assert isinstance(train, SynTPSPartStream) and train.pose_guidance and train.crop_jitter > 0
    with pytest.raises(InputError, match="train_source"):
        build_detection_datasets(_bench("yolof/yolof_r18w16_persons_syntps_bench.yaml", DetectionRecipe, tiny_val,
                                        train_source="videos"))
    with pytest.raises(InputError, match="class_names"):
        build_detection_datasets(_bench("yolof/yolof_r18w16_persons_syntps_bench.yaml", DetectionRecipe, tiny_val,
                                        stream_view="parts"))


def test_parts_stream_can_train_on_a_pose_models_dots(tiny_val):
    import pickle

    guided = "yolof/yolof_r18w16s16_parts_guided_syntps_bench.yaml"
    recipe = _bench(guided, DetectionRecipe, tiny_val, dots_from="pose_model", dots_pose_model="zoo:syntps/pose")
    train, _ = build_detection_datasets(recipe)
    source = train.keypoint_source
    assert isinstance(source, PoseModelKeypoints) and source.score_thr == 0.3
    assert pickle.loads(pickle.dumps(source))._model is None      # a worker gets the name, loads the model
    person = next(i for i in range(50) if render_stream_frame(recipe.data.stream, i).persons)
    frame = render_stream_frame(recipe.data.stream, person)
    x1, y1, x2, y2 = frame.persons[0].box
    kp = source(frame.rgb, (float(x1), float(y1), float(x2) + 1, float(y2) + 1))
    assert kp.shape == (17, 3) and set(np.unique(kp[:, 2])) <= {0.0, 1.0} and kp[:, 2].sum() >= 5
    drawn = kp[kp[:, 2] > 0]
    assert (drawn[:, 0] > x1 - 20).all() and (drawn[:, 0] < x2 + 20).all()      # on the person
    assert (kp[kp[:, 2] == 0, :2] == 0).all()
    assert train[0]["image"].shape[0] == 3
    for data, match in (({"dots_pose_model": "null"}, "dots_pose_model"),
                        ({"pose_guidance": "false"}, "pose_guidance"),
                        ({"dots_pose_model": "zoo:syntps/persons"}, "not a pose model")):
        bad = _bench(guided, DetectionRecipe, tiny_val, dots_from="pose_model", **{"dots_pose_model": "zoo:syntps/pose",
                                                                                     **data})
        with pytest.raises(InputError, match=match):
            build_detection_datasets(bad)
    with pytest.raises(InputError, match="parts stream"):
        build_detection_datasets(_bench("yolof/yolof_r18w16_persons_syntps_bench.yaml", DetectionRecipe, tiny_val,
                                        dots_from="pose_model", dots_pose_model="zoo:syntps/pose"))


def test_pose_train_source_picks_the_pose_stream(tiny_val):
    pose_recipes = [p for p in BENCH if read_recipe_dict(p)["task"] == "pose"]
    if not pose_recipes:
        pytest.skip("no pose bench recipe")
    recipe = load_recipe(pose_recipes[0], PoseRecipe, [f"data.root={tiny_val}"])
    train, _ = build_pose_datasets(recipe)
    assert isinstance(train, SynTPSPoseStream)
    item = train[0]
    assert item["image"].shape == (3, *recipe.input.input_size)


def test_person_recipe_builds_the_thin_trained_bn_model():
    recipe = load_recipe(CONFIGS / "yolof/yolof_r18w16_persons_syntps_bench.yaml", DetectionRecipe)
    model = build_detection_model(recipe, load_pretrained=False)
    assert model.backbone.out_channels == 8 * recipe.model.backbone_width
    assert isinstance(model.backbone.layer2[0].bn1, torch.nn.BatchNorm2d)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    assert all(p.requires_grad for p in model.parameters())


def test_stream_recipe_trains_two_steps_and_validates(tiny_val, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    work = tmp_path / "run"
    sets = [f"data.root={tiny_val}", f"train.work_dir={work}", "train.max_iters_per_epoch=2", "train.batch_size=2",
            "train.num_workers=0", "schedule.epochs=1", "schedule.warmup_iters=1", "data.val_max_images=2"]
    args = ["train", "--recipe", str(CONFIGS / "yolof/yolof_r18w16_persons_syntps_bench.yaml"), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    try:
        result = CliRunner().invoke(app, args)
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in events if e["event"] == "train"] == [2]
    assert any(e["event"] == "val" and "AP50" in e for e in events)
