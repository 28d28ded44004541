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
#: floors of the spatial models on the check set's val split: (metric, floor) per COCO view
SPATIAL_FLOORS = {"persons_val.json": ("AP50", 0.7), "parts_val.json": ("AP50", 0.5),
                  "person_keypoints_val.json": ("AP", 0.4)}


def _names(task: str) -> list[str]:
    return [n for n, e in ENTRIES.items() if e.task == task]


@pytest.fixture(scope="module")
def check_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_check")
    generate_dataset(CHECK_SET, root, workers=1)
    return root


@pytest.fixture(scope="module")
def check_coco(check_set, tmp_path_factory):
    from partparse.data.synthetic.export_coco import export_part_detection, export_person_detection, export_pose

    out = tmp_path_factory.mktemp("zoo_check_coco")
    export_person_detection(check_set, "val", out)
    export_part_detection(check_set, "val", out)
    export_pose(check_set, "val", out)
    return out


def test_the_manifest_lists_checked_files_and_how_to_rebuild_them():
    for name, entry in ENTRIES.items():
        folder = resolve(name)
        assert all((folder / f).is_file() for f in entry.files)
        if entry.task != "class_prior":
            assert entry.rebuild and entry.metrics and entry.training, name


@pytest.mark.parametrize("name", _names("video"))
def test_video_model_recognises_actions_of_unseen_videos(name, check_set):
    torch.set_num_threads(1)
    model, recipe, _ = load_trained(f"zoo:{name}")
    scorer = CSNVideoScorer(model, video_class_names(f"zoo:{name}"), VideoScorerConfig.from_clip_config(recipe.clips))
    correct = 0
    for split in ("train", "val"):
        actions, part = split_annotations(check_set, split)
        boxes = keyframe_person_boxes(part)
        for video in sorted((check_set / f"{split}_videos").glob("*/*.mp4")):
            persons = [(b, box_areas(b)) for b in boxes[video.stem]]
            scores = scorer.score(str(video), persons)["action"]
            correct += scorer.class_names["action"][int(np.argmax(scores))] == actions[video.stem]
    assert correct / CHECK_SET.videos >= VIDEO_TOP1_FLOOR, f"zoo:{name}: {correct}/{CHECK_SET.videos}"


@pytest.mark.parametrize("name", _names("detection") + _names("pose"))
def test_spatial_model_finds_what_it_was_trained_for_on_unseen_frames(name, check_coco):
    """The entry's own validation, on the check set's COCO view (ground-truth boxes for pose, ground-truth
    keypoint dots for the guided parts, as in training validation)."""
    from dataclasses import replace

    from torch.utils.data import DataLoader

    from partparse.data.coco_detection import detection_collate

    torch.set_num_threads(1)
    model, recipe, _ = load_trained(f"zoo:{name}")
    recipe = replace(recipe, data=replace(recipe.data, root=str(check_coco), val_max_images=None))
    if recipe.task == "detection":
        from partparse.engine.detection_task import build_detection_datasets, detection_eval

        val = build_detection_datasets(recipe)[1]
        loader = DataLoader(val, batch_size=8, collate_fn=detection_collate)
        metrics = detection_eval(model, loader, torch.device("cpu"))
    else:
        from partparse.engine.pose_task import build_pose_datasets, make_pose_eval, pose_collate

        val = build_pose_datasets(recipe)[1]
        metrics = make_pose_eval(recipe)(model, DataLoader(val, batch_size=8, collate_fn=pose_collate),
                                         torch.device("cpu"))
    metric, floor = SPATIAL_FLOORS[recipe.data.val_ann]
    assert metrics[metric] >= floor, f"zoo:{name}: {metric} {metrics[metric]:.3f} < {floor}"


@pytest.mark.parametrize("name", _names("class_prior"))
def test_class_prior_covers_every_action_and_coarse_part(name):
    prior = load_class_prior(f"zoo:{name}")
    assert len(prior.table) == 10
    assert all(set(states) == {"head", "hand", "arm", "hip", "leg", "foot"} for states in prior.table.values())


#: floors of a skeleton model on the check set's ground-truth keypoint tracks (chance: 10 % / about 25 %)
SKELETON_FLOORS = {"top1_action_video": 0.8, "part_state_acc": 0.7}


@pytest.mark.parametrize("name", _names("skeleton"))
def test_skeleton_model_reads_actions_and_states_from_unseen_keypoint_tracks(name, check_set):
    from torch.utils.data import DataLoader

    from partparse.data.skeleton_dataset import SkeletonLabels, SkeletonTrackDataset, read_tracks, skeleton_collate
    from partparse.engine.skeleton_task import skeleton_eval
    from partparse.io import read_json

    torch.set_num_threads(1)
    model, _, class_names = load_trained(f"zoo:{name}")
    labels = SkeletonLabels.from_dict(class_names)
    assert class_names == read_json(resolve(name) / "label_spaces.json")
    tracks = [t for split in ("train", "val") for t in read_tracks(check_set, split, labels)[0]]
    loader = DataLoader(SkeletonTrackDataset(tracks, labels), batch_size=64, collate_fn=skeleton_collate)
    metrics = skeleton_eval(model, loader, torch.device("cpu"))
    for metric, floor in SKELETON_FLOORS.items():
        assert metrics[metric] >= floor, f"zoo:{name}: {metric} {metrics[metric]:.3f} < {floor}"
