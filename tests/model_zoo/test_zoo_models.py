"""Every model of the zoo, loaded by name (checksums verified), measured on a small SynTPS set of a seed
no zoo model trained or was validated on. The floors sit well below each model's benchmark metric
(recorded in the manifest and docs/benchmarks.md) and far above chance, so a broken loader, a wrong
preprocessing path or corrupted weights fail here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partparse.data.person_window import box_areas
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.engine.trained_models import load_trained
from partparse.engine.video_task import keyframe_person_boxes, split_annotations
from partparse.model_zoo import load_manifest, resolve
from partparse.pipeline.parse_recipe import load_class_prior, video_class_names
from partparse.pipeline.video_scorers import CSNVideoScorer, VideoScorerConfig

ENTRIES = load_manifest()
#: 40 SynTPS videos of a seed no zoo model saw (the bench is seed 2021, the training pool 7001)
CHECK_SET = SynthConfig(videos=40, seed=424242, val_fraction=0.5)
#: action top-1 floor of a video model on the check set (chance: 10 %)
VIDEO_TOP1_FLOOR = 0.5


def _names(task: str) -> list[str]:
    return [n for n, e in ENTRIES.items() if e.task == task]


@pytest.fixture(scope="module")
def check_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_check")
    generate_dataset(CHECK_SET, root, workers=1)
    return root


def test_the_manifest_lists_checked_files_and_how_to_rebuild_them():
    for name, entry in ENTRIES.items():
        folder = resolve(name)
        assert all((folder / f).is_file() for f in entry.files)
        if entry.task != "class_prior":
            assert entry.rebuild and entry.metrics and entry.training, name


@pytest.mark.parametrize("name", _names("video"))
def test_video_model_recognises_actions_of_unseen_videos(name, check_set):
    torch.set_num_threads(1)
    model, recipe = load_trained(f"zoo:{name}")
    scorer = CSNVideoScorer(model, video_class_names(f"zoo:{name}"), VideoScorerConfig.from_clip_config(recipe.clips))
    correct = 0
    for split in ("train", "val"):
        actions, _ = split_annotations(check_set, split)
        boxes = keyframe_person_boxes(check_set, split)
        for video in sorted((check_set / f"{split}_videos").glob("*/*.mp4")):
            persons = [(b, box_areas(b)) for b in boxes[video.stem]]
            scores = scorer.score(str(video), persons)["action"]
            correct += scorer.class_names["action"][int(np.argmax(scores))] == actions[video.stem]
    assert correct / CHECK_SET.videos >= VIDEO_TOP1_FLOOR, f"zoo:{name}: {correct}/{CHECK_SET.videos}"


@pytest.mark.parametrize("name", _names("class_prior"))
def test_class_prior_covers_every_action_and_coarse_part(name):
    prior = load_class_prior(f"zoo:{name}")
    assert len(prior.table) == 10
    assert all(set(states) == {"head", "hand", "arm", "hip", "leg", "foot"} for states in prior.table.values())
