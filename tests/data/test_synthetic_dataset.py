"""SynTPS output: layout, formats, round trips, determinism and the video files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np

from partparse.data.synthetic.actions import all_states
from partparse.data.synthetic.generator import SYNTH_ACTIONS, SynthConfig, generate_dataset, plan_videos
from partparse.data.synthetic.layout import SPLITS, SynthLayout, read_flist
from partparse.data.tps_format import load_annotation_tree, load_ground_truth
from partparse.data.tps_validation import check_part_results, check_video_results, errors
from partparse.data.vocabulary import BODY_PARTS, read_name_list
from partparse.io import read_json

ID = re.compile(r"^[A-Za-z0-9_-]{11}_\d{6}_\d{6}$")


def _annotation_files(root: Path) -> dict[str, bytes]:
    files = [p for split in SPLITS for p in (root / f"{split}_annotations").rglob("*.json")]
    files += [root / f"gt_{s}" / n for s in SPLITS for n in ("gt_vid_result.json", "gt_part_result.json")]
    files += [root / f"keypoints_{s}.json" for s in SPLITS] + [root / "synth_config.json"]
    files += sorted((root / "list").iterdir())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_layout_and_lists(tiny_dataset, tiny_config):
    layout = SynthLayout(tiny_dataset)
    assert read_name_list(layout.list_dir / "body_part.txt") == list(BODY_PARTS)
    assert read_name_list(layout.list_dir / "part_stat.txt") == list(all_states())
    assert read_name_list(layout.list_dir / "part_stat.txt")[0] == "none"
    assert read_name_list(layout.list_dir / "action.txt") == list(SYNTH_ACTIONS[: tiny_config.actions])
    config = read_json(layout.config)
    assert SynthConfig(**{k: v for k, v in config.items() if k not in ("generator_version", "visibility")}) \
        == SynthConfig(**{k: getattr(tiny_config, k) for k in config if k not in ("generator_version", "visibility")})
    for split in SPLITS:
        vids = read_json(layout.gt_dir(split) / "gt_vid_result.json")
        assert [v for v, _ in read_flist(layout.flist(split))] == list(vids)
        for vid, action in vids.items():
            assert ID.match(vid), vid
            assert layout.video(split, action, vid).is_file()
            assert layout.annotation_dir(split, action, vid).is_dir()


def test_splits_are_disjoint_and_cover_all_videos(tiny_dataset, tiny_config):
    layout = SynthLayout(tiny_dataset)
    train = set(read_json(layout.gt_dir("train") / "gt_vid_result.json"))
    val = set(read_json(layout.gt_dir("val") / "gt_vid_result.json"))
    assert train and val and not train & val
    assert train | val == {p.video_id for p in plan_videos(tiny_config)}
    assert len(val) == 1                                          # round(4 * 0.25)


def test_annotation_tree_round_trips_to_ground_truth(tiny_dataset, tiny_config):
    layout = SynthLayout(tiny_dataset)
    for split in SPLITS:
        tree = load_annotation_tree(layout.annotation_root(split))
        gt = load_ground_truth(layout.gt_dir(split))
        assert set(tree) == set(gt)
        for vid, video in gt.items():
            assert tree[vid].action == video.action
            assert [f.key for f in video.frames] == ["img_00001.json", "img_00006.json", "img_00011.json",
                                                     "img_00016.json"]
            for a, b in zip(tree[vid].frames, video.frames, strict=True):
                assert a.key == b.key
                assert [(p.box, p.parts) for p in a.persons] == [(p.box, p.parts) for p in b.persons]


def test_files_validate_and_hold_integer_boxes_inside_the_frame(tiny_dataset, tiny_config):
    layout = SynthLayout(tiny_dataset)
    w, h = tiny_config.width, tiny_config.height
    n_parts = 0
    for split in SPLITS:
        vid = read_json(layout.gt_dir(split) / "gt_vid_result.json")
        part = read_json(layout.gt_dir(split) / "gt_part_result.json")
        assert not list(errors(check_video_results(vid, "vid")))
        assert not list(errors(check_part_results(part, "part", submission=False)))
        for frames in part.values():
            for frame in frames.values():
                assert set(frame) == {"humans"}
                for human in frame["humans"]:
                    x1, y1, x2, y2 = human["box"]
                    assert all(isinstance(v, int) for v in human["box"])
                    assert 0 <= x1 <= x2 <= w - 1 and 0 <= y1 <= y2 <= h - 1
                    for name, p in human["parts"].items():
                        assert name in BODY_PARTS and p["verb"] in all_states()
                        px1, py1, px2, py2 = p["box"]
                        assert x1 <= px1 <= px2 <= x2 and y1 <= py1 <= py2 <= y2   # part inside its person
                        n_parts += 1
    assert n_parts > 20


def test_keypoints_file_matches_the_ground_truth(tiny_dataset):
    layout = SynthLayout(tiny_dataset)
    for split in SPLITS:
        coco = read_json(layout.keypoints(split))
        gt = read_json(layout.gt_dir(split) / "gt_part_result.json")
        frames = [(vid, key, f) for vid, fr in gt.items() for key, f in fr.items()]
        assert len(coco["images"]) == len(frames)
        by_image: dict[int, list] = {}
        for ann in coco["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
        for image, (vid, key, frame) in zip(coco["images"], frames, strict=True):
            assert (image["video_id"], image["frame_key"]) == (vid, key)
            anns = by_image.get(image["id"], [])
            assert len(anns) == len(frame["humans"])
            for ann, human in zip(anns, frame["humans"], strict=True):
                x1, y1, x2, y2 = human["box"]
                assert ann["bbox"] == [x1, y1, x2 - x1 + 1, y2 - y1 + 1]
                kps = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
                assert set(kps[:, 2]) <= {0, 1, 2}
                assert np.all(kps[kps[:, 2] == 0, :2] == 0)
                assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
        assert coco["categories"][0]["keypoints"][0] == "nose"


def test_videos_decode_to_the_configured_size_and_length(tiny_dataset, tiny_config):
    layout = SynthLayout(tiny_dataset)
    vids = read_json(layout.gt_dir("train") / "gt_vid_result.json")
    for vid, action in vids.items():
        with av.open(str(layout.video("train", action, vid))) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            frames = list(container.decode(video=0))
        assert len(frames) == tiny_config.frames
        assert (frames[0].width, frames[0].height) == (tiny_config.width, tiny_config.height)
        assert frames[0].format.name == "yuv420p"


def test_same_seed_gives_byte_identical_annotations_in_parallel_too(tiny_dataset, tiny_config, tmp_path):
    again = tmp_path / "again"
    generate_dataset(tiny_config, again, workers=2)
    assert _annotation_files(again) == _annotation_files(tiny_dataset)


def test_another_seed_gives_other_data(tiny_dataset, tiny_config, tmp_path):
    other = SynthConfig(**{**tiny_config.__dict__, "seed": tiny_config.seed + 1, "videos": 1, "val_fraction": 0.0})
    generate_dataset(other, tmp_path / "other")
    first = json.loads((tmp_path / "other" / "gt_train" / "gt_vid_result.json").read_text())
    assert not set(first) & set(read_json(tiny_dataset / "gt_train" / "gt_vid_result.json"))
