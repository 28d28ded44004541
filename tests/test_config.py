"""Typed recipes: YAML -> dataclasses, overrides by dotted path, clear errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from partparse.config import from_dict, load_recipe, save_recipe, to_dict
from partparse.engine.optim import OptimConfig, ScheduleConfig
from partparse.io import InputError


@dataclass
class Recipe:
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    name: str = "x"


def test_yaml_recipe_with_overrides_round_trips(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optim:\n  lr: 8.0e-5\n  nesterov: true\n  grad_clip: 40\nschedule:\n  epochs: 58\n"
                    "  milestones: [32, 48]\n  warmup_iters: 16\n")
    r = load_recipe(path, Recipe, overrides=["optim.lr=0.01", "schedule.milestones=[16, 22]", "name=det"])
    assert r.optim.lr == 0.01 and r.optim.grad_clip == 40.0 and isinstance(r.optim.grad_clip, float)
    assert r.schedule.milestones == [16, 22] and r.schedule.epochs == 58 and r.name == "det"
    save_recipe(r, tmp_path / "used.yaml")
    assert load_recipe(tmp_path / "used.yaml", Recipe) == r


@pytest.mark.parametrize("text, value", [("5e-4", 5e-4), ("1.0e3", 1000.0), ("+2E+2", 200.0), ("3", 3.0)])
def test_exponent_floats_without_a_dot_or_sign_are_numbers(tmp_path, text, value):
    # PyYAML (YAML 1.1) reads `5e-4` as a string; `--set optim.lr=5e-4` must still be a float
    path = tmp_path / "r.yaml"
    path.write_text(f"optim:\n  lr: {text}\n")
    assert load_recipe(path, Recipe).optim.lr == value
    assert load_recipe(tmp_path / "r.yaml", Recipe, overrides=[f"optim.lr={text}"]).optim.lr == value
    path.write_text("name: 1e\n")  # not a number: stays the string it is
    assert load_recipe(path, Recipe).name == "1e"


def test_recipe_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(InputError, match=r"bad.yaml.optim: unknown key 'lrr' for OptimConfig"):
        load_recipe(path, Recipe)
    path.write_text("optim:\n  nesterov: 3\n")
    with pytest.raises(InputError, match=r"bad.yaml.optim.nesterov: expected true/false, got 3"):
        load_recipe(path, Recipe)
    path.write_text("optim: [1, 2\n")
    with pytest.raises(InputError, match=r"bad.yaml: malformed YAML"):
        load_recipe(path, Recipe)
    with pytest.raises(InputError, match=r"missing.yaml: recipe not found"):
        load_recipe(tmp_path / "missing.yaml", Recipe)
    path.write_text("optim:\n  lr: 0.1\n")
    with pytest.raises(InputError, match=r"expected dotted.key=value"):
        load_recipe(tmp_path / "bad.yaml", Recipe, overrides=["optim.lr"])


def test_to_dict_is_plain():
    d = to_dict(Recipe())
    assert d["schedule"]["milestones"] == [16, 22] and from_dict(Recipe, d) == Recipe()


def test_every_shipped_recipe_loads():
    from pathlib import Path

    from partparse.config import read_recipe_dict
    from partparse.engine.tasks import recipe_class
    from partparse.engine.video_recipe import VideoRecipe

    recipes = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
    assert recipes
    tasks = set()
    for path in recipes:
        task = read_recipe_dict(path)["task"]
        if task == "parse":
            from partparse.pipeline.parse_recipe import ParseRecipe as cls
        else:
            cls = recipe_class(task)
        r = load_recipe(path, cls)
        assert r.name == path.stem and r.task == task
        tasks.add(task)
    assert {"video", "detection", "pose"} <= tasks
    report = load_recipe(Path(__file__).resolve().parents[1] / "configs/csn/ir_csn_152_tps.yaml", VideoRecipe)
    assert (report.optim.lr, report.optim.nesterov, report.schedule.milestones, report.schedule.epochs) == (
        8e-5, True, [32, 48], 58)
    assert (report.clips.clip_len, report.clips.frame_interval, report.clips.num_test_clips) == (32, 2, 7)
    assert report.model.frozen_bn and report.schedule.warmup_iters == 16


def test_report_spatial_recipes_say_what_the_report_says():
    from pathlib import Path

    from partparse.engine.detection_recipe import DetectionRecipe
    from partparse.engine.pose_recipe import PoseRecipe

    configs = Path(__file__).resolve().parents[1] / "configs"
    for name in ("yolof_r101_persons_tps", "yolof_r101_parts_pose_tps"):
        r = load_recipe(configs / "yolof" / f"{name}.yaml", DetectionRecipe)
        assert (r.model.depth, r.schedule.epochs, r.schedule.milestones, r.schedule.warmup_iters) == (
            101, 24, [16, 22], 1800)
        assert (r.optim.name, r.optim.lr, r.optim.momentum, r.optim.nesterov, r.optim.weight_decay) == (
            "sgd", 0.01, 0.9, True, 1e-4)
        assert r.train.batch_size == 6
    parts = load_recipe(configs / "yolof" / "yolof_r101_parts_pose_tps.yaml", DetectionRecipe)
    assert parts.data.pose_guidance and len(parts.model.class_names) == 10
    pose = load_recipe(configs / "hrnet" / "hrnet_w32_coco_256x192.yaml", PoseRecipe)
    assert (pose.input.input_size, pose.model.heatmap_size, pose.model.sigma) == ([256, 192], [64, 48], 2.0)
    assert (pose.optim.name, pose.optim.lr, pose.schedule.epochs, pose.schedule.milestones) == (
        "adam", 5e-4, 210, [170, 200])


# ------------------------------------------------------------------ hostile and careless recipes (issue 13)
VIDEO_RECIPE = (__import__("pathlib").Path(__file__).resolve().parents[1]
                / "configs" / "csn" / "ir_csn_26_syntps_cpu.yaml")

BOMB = ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
        'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'
        'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\noptim: {lr: *g}\n')


def _one_line_error(call) -> str:
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message[:1000]
    return message


def test_alias_bomb_in_a_recipe_or_an_override_is_refused_at_once(tmp_path):
    import time

    assert len(BOMB) < 400
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    t0 = time.perf_counter()
    message = _one_line_error(lambda: load_recipe(path, Recipe))
    assert message.startswith(f"{path}: malformed YAML at line 1 column 4: anchors and aliases")
    flow = "{" + BOMB.strip().replace("\n", ", ") + "}"
    message = _one_line_error(lambda: load_recipe(VIDEO_RECIPE, Recipe, [f"optim.lr={flow}"]))
    assert message.startswith("override 'optim.lr={a: &a [") and "anchors and aliases" in message
    assert time.perf_counter() - t0 < 2.0
    path.write_text("base: &b {lr: 0.1}\noptim:\n  <<: *b\n")          # a merge key is an alias too
    assert "anchors and aliases" in _one_line_error(lambda: load_recipe(path, Recipe))


def test_deeply_nested_recipe_is_one_line_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("optim: " + "[" * 20000 + "]" * 20000 + "\n")
    assert "nested deeper than 32 levels" in _one_line_error(lambda: load_recipe(path, Recipe))
    path.write_text("optim: " + "{a: " * 20000 + "1" + "}" * 20000 + "\n")
    assert "nested deeper than 32 levels" in _one_line_error(lambda: load_recipe(path, Recipe))
    deep = "[" * 4000 + "]" * 4000
    assert "nested deeper" in _one_line_error(lambda: load_recipe(VIDEO_RECIPE, Recipe, [f"optim.lr={deep}"]))


def test_huge_values_are_never_formatted_whole(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("optim:\n  lr: [" + ", ".join(["123456789"] * 50000) + "]\n")
    message = _one_line_error(lambda: load_recipe(path, Recipe))
    assert message.startswith(f"{path}.optim.lr: expected float, got [123456789, ") and message.endswith("...]")
    path.write_text("optim:\n  ? " + "x" * 100000 + "\n  : 1\n")
    assert "unknown key 'xxxx" in _one_line_error(lambda: load_recipe(path, Recipe))


def test_oversized_non_utf8_and_unreadable_recipes_name_the_file(tmp_path):
    from partparse.config import MAX_RECIPE_BYTES

    path = tmp_path / "r.yaml"
    path.write_bytes(b"optim:\n  lr: 0.1  # caf\xe9\n")
    assert _one_line_error(lambda: load_recipe(path, Recipe)) == f"{path}: not UTF-8 text (byte 23)"
    path.write_bytes(b"#" * (MAX_RECIPE_BYTES + 1))
    assert "larger than a recipe can be" in _one_line_error(lambda: load_recipe(path, Recipe))
    path.unlink()
    path.mkdir()
    assert _one_line_error(lambda: load_recipe(path, Recipe)) == f"{path}: recipe not found"
    fifo = tmp_path / "fifo.yaml"
    __import__("os").mkfifo(fifo)                       # reading it would block for ever
    assert _one_line_error(lambda: load_recipe(fifo, Recipe)) == f"{fifo}: recipe not found"


@pytest.mark.parametrize("text", ["a: 2020-13-45\n", "a: " + "1" * 5000 + "\n", "a: !!int x\n", "a: !!timestamp 1\n",
                                  "a: !!python/object:os.system ls\n", "\x00", "{[1]: 2}\n", "1: a\nb: c\n",
                                  "- 1\n", "'x'\n", "a: !!binary zz\n"])
def test_malformed_yaml_values_are_one_line(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert _one_line_error(lambda: load_recipe(path, Recipe)).startswith(str(path))


@pytest.mark.parametrize("override, message", [
    ("optim.lr=[1,2", "override 'optim.lr=[1,2': malformed YAML at line 1 column 5"),
    ("optim.lr", "expected dotted.key=value"),
    ("optim..lr=1", "an empty key part"),
    ("=1", "an empty key part"),
    ("optim.lr.x=1", "'lr' is not a section"),
    ("optim.lr=" + "9" * 20000, "longer than 10000 characters"),
    ("optim.lr=.nan", "optim.lr: must be > 0 (and finite), got nan"),
    ("optim.lr=-1", "optim.lr: must be > 0 (and finite), got -1.0"),
    ("optim.name=rmsprop", "optim.name: must be one of 'sgd', 'adam', 'adamw', got 'rmsprop'"),
    ("schedule.epochs=-1", "schedule.epochs: must be >= 1, got -1"),
    ("schedule.milestones=[-3]", "schedule.milestones: must be a list of values each >= 0"),
    ("schedule.epochs=" + "9" * 30, "schedule.epochs: integer out of range"),
])
def test_bad_overrides_are_one_line_errors(override, message):
    from partparse.engine.video_recipe import VideoRecipe

    assert message in _one_line_error(lambda: load_recipe(VIDEO_RECIPE, VideoRecipe, [override]))


@pytest.mark.parametrize("override, field", [
    ("train.batch_size=0", "train.batch_size"), ("train.val_interval=0", "train.val_interval"),
    ("train.log_interval=0", "train.log_interval"), ("train.num_workers=-1", "train.num_workers"),
    ("optim.lr=-1", "optim.lr"), ("optim.lr=.nan", "optim.lr"), ("optim.lr=.inf", "optim.lr"),
    ("clips.clip_len=0", "clips.clip_len"), ("clips.crop_size=0", "clips.crop_size"),
    ("model.depth=27", "model.depth"), ("clips.short_side=100000", "clips.short_side"),
    ("schedule.epochs=-1", "schedule.epochs"), ("data.heads=[bogus]", "data.heads[0]"),
    ("data.heads=[]", "data.heads"), ("data.heads=[hand, hand]", "data.heads"), ("train.amp=fp8", "train.amp"),
    ("model.variant=xy", "model.variant"), ("clips.test_crop=five", "clips.test_crop"),
    ("train.seed=-1", "train.seed"), ("clips.flip_prob=1.5", "clips.flip_prob"),
])
def test_video_recipe_values_are_checked_when_read(override, field):
    from partparse.engine.video_recipe import VideoRecipe

    message = _one_line_error(lambda: load_recipe(VIDEO_RECIPE, VideoRecipe, [override]))
    assert message.startswith(f"{VIDEO_RECIPE}.{field}: must be "), message


def test_spatial_and_parse_recipe_values_are_checked_when_read():
    from pathlib import Path

    from partparse.engine.detection_recipe import DetectionRecipe
    from partparse.engine.pose_recipe import PoseRecipe
    from partparse.pipeline.parse_recipe import load_parse_recipe

    configs = Path(__file__).resolve().parents[1] / "configs"
    det = configs / "yolof" / "yolof_r18_persons_syntps_cpu.yaml"
    assert f"{det}.model.depth: must be one of 18, 50, 101" in _one_line_error(
        lambda: load_recipe(det, DetectionRecipe, ["model.depth=34"]))
    assert f"{det}.input.min_size: must be in [8, 4096]" in _one_line_error(
        lambda: load_recipe(det, DetectionRecipe, ["input.min_size=0"]))
    pose = configs / "hrnet" / "hrnet_w18_small_syntps_cpu.yaml"
    assert f"{pose}.model.arch: must be one of" in _one_line_error(
        lambda: load_recipe(pose, PoseRecipe, ["model.arch=hrnet_w99"]))
    assert f"{pose}.input.input_size: must be a list of values each in [8, 4096]" in _one_line_error(
        lambda: load_recipe(pose, PoseRecipe, ["input.input_size=[0, 0]"]))
    assert "parser.device: must be auto, cpu, mps, cuda or cuda:N, got 'quantum'" in _one_line_error(
        lambda: load_parse_recipe("pretrained-persons", ["parser.device=quantum"]))
    assert "malformed YAML" in _one_line_error(
        lambda: load_parse_recipe("pretrained-persons", ["parser.top_k_persons=[1,2"]))
    assert "parser.top_k_persons: expected int, got [1, 2]" in _one_line_error(
        lambda: load_parse_recipe("pretrained-persons", ["parser.top_k_persons=[1,2]"]))
    assert "top_k_persons must be 1..10" in _one_line_error(
        lambda: load_parse_recipe("pretrained-persons", ["parser.top_k_persons=11"]))
    assert "video.crop: must be one of 'center', 'three'" in _one_line_error(
        lambda: load_parse_recipe("pretrained-persons", ["video.crop=five"]))


def test_a_recipe_task_cannot_be_changed_by_set():
    from partparse.engine.video_recipe import VideoRecipe

    message = _one_line_error(lambda: load_recipe(VIDEO_RECIPE, VideoRecipe, ["task=pose"]))
    assert message == f"{VIDEO_RECIPE}: task 'pose', expected 'video' (a recipe's task cannot be changed with --set)"
    assert load_recipe(VIDEO_RECIPE, VideoRecipe, ["task=video"]).task == "video"


def test_an_empty_section_can_be_set(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optim:\nschedule:\n  epochs: 2\n")
    assert load_recipe(path, Recipe, ["optim.lr=0.5"]).optim.lr == 0.5


def test_a_key_given_twice_and_nul_characters_are_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentum: 0.9\n  lr: 0.01\n")
    assert _one_line_error(lambda: load_recipe(path, Recipe)) == (
        f"{path}: malformed YAML at line 4 column 3: key 'lr' given twice")
    path.write_text("name: x\n")
    assert "name: contains a NUL character" in _one_line_error(lambda: load_recipe(path, Recipe, ['name="a\\0b"']))
