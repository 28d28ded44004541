"""Fuzzing the one recipe reader: whatever the text, the structure or the ``--set`` string, only a
one-line :class:`InputError` escapes (never a RecursionError, MemoryError, TypeError, ...)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partparse.config import load_recipe
from partparse.engine.detection_recipe import DetectionRecipe
from partparse.engine.pose_recipe import PoseRecipe
from partparse.engine.video_recipe import VideoRecipe
from partparse.io import InputError
from partparse.pipeline.parse_recipe import ParseRecipe

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])
CLASSES = (VideoRecipe, DetectionRecipe, PoseRecipe, ParseRecipe)
VIDEO = Path(__file__).resolve().parents[1] / "configs" / "csn" / "ir_csn_26_syntps_cpu.yaml"

# YAML-ish text: the language's punctuation, tags, anchors, numbers and the recipes' own keys
TOKENS = st.sampled_from([
    "\n", "  ", ": ", "- ", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: ", "!!int ", "!!python/object:os.system ",
    "!!binary ", "!!timestamp ", "? ", "|", ">", "'", '"', "#", "~", "null", "true", ".nan", "-.inf", "1e3",
    "2020-13-45", "0x1F", "99999999999999999999999", "-1", "0", "task", "video", "pose", "model", "depth", "train",
    "batch_size", "optim", "lr", "clips", "data", "heads", "action", "schedule", "milestones", "parser", "models",
    "fusion_weights", "\t", "\x00", "\ufeff", "é", "---", "...", "%YAML 1.1",
])
yaml_text = st.lists(TOKENS | st.text(max_size=8), max_size=60).map("".join)

# nested structures as a YAML loader could return them (keys of any scalar type)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.binary(max_size=4)
keys = st.sampled_from(["task", "model", "train", "optim", "lr", "depth", "heads", "clips", "data", "parser",
                        "device", "batch_size", "epochs", "top_k_persons", "keyframe_step", "pretrained_persons",
                        "imgsz", "keypoint_parts", "keypoint_score_thr", "models", "fusion_weights"]) | scalars
structures = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(keys, inner, max_size=4), max_leaves=30)

# --set strings: dotted keys of the recipes and YAML-ish values
dotted = st.lists(st.sampled_from(["model", "train", "optim", "lr", "depth", "clips", "data", "heads", "task",
                                   "x", "", " ", "batch_size"]), min_size=1, max_size=4).map(".".join)
overrides = st.builds(lambda k, eq, v: f"{k}{eq}{v}", dotted, st.sampled_from(["=", "", "==", " = "]), yaml_text)


def _only_input_errors(call) -> None:
    try:
        call()
    except InputError as err:
        assert "\n" not in str(err) and len(str(err)) < 2000, str(err)[:2000]


@SETTINGS
@given(text=yaml_text, cls=st.sampled_from(CLASSES))
def test_any_recipe_text_reads_or_is_one_input_error(tmp_path, text, cls):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    _only_input_errors(lambda: load_recipe(path, cls))


@SETTINGS
@given(raw=st.binary(max_size=200), cls=st.sampled_from(CLASSES))
def test_any_recipe_bytes_read_or_are_one_input_error(tmp_path, raw, cls):
    path = tmp_path / "r.yaml"
    path.write_bytes(raw)
    _only_input_errors(lambda: load_recipe(path, cls))


@SETTINGS
@given(data=st.dictionaries(keys, structures, max_size=6), cls=st.sampled_from(CLASSES))
def test_any_structure_converts_or_is_one_input_error(tmp_path, data, cls):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    _only_input_errors(lambda: load_recipe(path, cls))


@SETTINGS
@given(sets=st.lists(overrides, min_size=1, max_size=3))
def test_any_set_strings_apply_or_are_one_input_error(sets):
    _only_input_errors(lambda: load_recipe(VIDEO, VideoRecipe, sets))


@pytest.mark.parametrize("cls", CLASSES)
def test_the_fuzzers_reach_valid_recipes_too(tmp_path, cls):
    """The strategies above are not all refusals: an empty text is a valid recipe of every class."""
    (tmp_path / "r.yaml").write_text("")
    assert isinstance(load_recipe(tmp_path / "r.yaml", cls), cls)
