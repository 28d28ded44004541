"""Stage stand-ins for parser tests: oracle stages that return a video's ground truth, recorders, and
tiny random-init models. Ground-truth boxes are inclusive pixels; stages speak continuous ``xyxy``
(``x2 + 1``), as the Protocols say."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from partparse.data.part_labels import part_state_label, video_part_states
from partparse.data.synthetic.generator import SynthConfig, generate_dataset
from partparse.io import read_json
from partparse.pipeline.stages import PartDetections, PersonDetections

#: 4 videos x 24 frames at 96x64 (frames 0, 5, ..., 20 annotated), 3 actions: ~1 s to generate.
TINY_SYNTH = SynthConfig(videos=4, seed=1, actions=3, fps=15, width=96, height=64, frames=24, val_fraction=0.25)


def make_tiny_dataset(root: Path) -> Path:
    generate_dataset(TINY_SYNTH, root)
    return root


def all_ground_truth(root: Path) -> tuple[dict, dict]:
    """``(gt_vid, gt_part)`` of both splits of a SynTPS folder."""
    vid, part = {}, {}
    for split in ("train", "val"):
        vid.update(read_json(root / f"gt_{split}" / "gt_vid_result.json"))
        part.update(read_json(root / f"gt_{split}" / "gt_part_result.json"))
    return vid, part


def continuous(box: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = box
    return [x1, y1, x2 + 1, y2 + 1]


class OracleStages:
    """A person detector and a part detector that return one video's GT frames in keyframe order.

    The parser asks for persons of a batch of keyframes, then for the parts of each keyframe in the same
    order; the detector queues the frames it answered for the part detector.
    """

    def __init__(self, gt_frames: Mapping[str, Mapping]):
        self.frames = list(gt_frames.values())
        self._next = 0
        self._pending: deque = deque()
        self.part_calls: list[tuple[np.ndarray, object]] = []

    def detect(self, frames: Sequence[np.ndarray]) -> list[PersonDetections]:
        out = []
        for _ in frames:
            humans = self.frames[self._next]["humans"] if self._next < len(self.frames) else []
            self._next += 1
            self._pending.append(humans)
            boxes = np.array([continuous(h["box"]) for h in humans], np.float32).reshape(-1, 4)
            out.append(PersonDetections(boxes, 1.0 - 0.01 * np.arange(len(humans))))  # GT order = best first
        return out

    def detect_parts(self, frame, boxes, keypoints, keypoint_scores) -> list[PartDetections]:
        humans = self._pending.popleft()
        self.part_calls.append((np.array(boxes), keypoints))
        return [PartDetections({n: (np.array(continuous(p["box"]), np.float32), 0.9) for n, p in h["parts"].items()})
                for h in humans[: len(boxes)]]


class OneHotScorer:
    """A video scorer certain of given labels: ``labels[head]`` gets probability 1."""

    def __init__(self, class_names: Mapping[str, Sequence[str]], labels: Mapping[str, str]):
        self.class_names = {h: list(n) for h, n in class_names.items()}
        self.labels = dict(labels)

    def score(self, video_path: str, persons=None) -> dict[str, np.ndarray]:
        out = {}
        for head, names in self.class_names.items():
            p = np.zeros(len(names))
            p[names.index(self.labels[head])] = 1.0
            out[head] = p
        return out


def oracle_scorer(gt_vid: Mapping[str, str], gt_part: Mapping, video_id: str) -> OneHotScorer:
    """Scores naming the video's true action and the majority state of each coarse part it shows."""
    action = gt_vid[video_id]
    states = video_part_states(gt_part[video_id])
    names = {"action": sorted(set(gt_vid.values()))}
    labels = {"action": action}
    for coarse, state in states.items():
        names[coarse] = sorted({part_state_label(action, coarse, state), part_state_label(action, coarse, "other")})
        labels[coarse] = part_state_label(action, coarse, state)
    return OneHotScorer(names, labels)


class FixedPersons:
    """Always the same persons (``boxes (N, 4)`` continuous, ``scores (N,)``) in every frame."""

    def __init__(self, boxes, scores):
        self.boxes, self.scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)

    def detect(self, frames):
        return [PersonDetections(self.boxes.copy(), self.scores.copy()) for _ in frames]


class FixedPose:
    """Keypoints given per person (``(N, 17, 2)``), score 1; records the boxes it was asked about."""

    def __init__(self, keypoints):
        self.keypoints = np.asarray(keypoints, np.float32)
        self.calls: list[np.ndarray] = []

    def estimate(self, frame, boxes):
        self.calls.append(np.array(boxes))
        n = len(boxes)
        return self.keypoints[:n].copy(), np.ones(self.keypoints[:n].shape[:2], np.float32)


class RecordingParts:
    """A part detector that records its inputs and finds a ``head`` at the top of each person box."""

    def __init__(self):
        self.calls: list[tuple[np.ndarray, object, object]] = []

    def detect_parts(self, frame, boxes, keypoints, keypoint_scores):
        self.calls.append((np.array(boxes), keypoints, keypoint_scores))
        return [PartDetections({"head": (np.array([b[0], b[1], b[0] + 4, b[1] + 4], np.float32), 0.8)}) for b in boxes]


# ------------------------------------------------------------------------------ tiny random-init models
def tiny_yolof(num_classes: int, seed: int = 0):
    """YOLOF-R18 at a 64-pixel short side that reports every candidate (random weights score ~0.01)."""
    import torch

    from partparse.models.yolof import yolof_r18

    torch.manual_seed(seed)
    return yolof_r18(num_classes, min_size=64, max_size=128, score_thresh=0.0, detections_per_img=20,
                     encoder_channels=64, encoder_mid_channels=16).eval()


def tiny_hrnet(seed: int = 0):
    """HRNet-W18-small on 96x64 crops (every branch size even), no flip test."""
    import torch

    from partparse.models.hrnet import hrnet_w18_small
    from partparse.models.keypoint_codec import HeatmapCodec

    torch.manual_seed(seed)
    return hrnet_w18_small(codec=HeatmapCodec(input_size=(96, 64), heatmap_size=(24, 16)), flip_test=False).eval()


TINY_VIDEO_NAMES = {"action": ["bow", "clap", "jumping_jacks"],
                    "hand": ["bow_Hand_none", "clap_Hand_clap", "jumping_jacks_Hand_raise"]}


def tiny_csn(seed: int = 0):
    """ir-CSN-26 with an action and a hand head (:data:`TINY_VIDEO_NAMES`)."""
    import torch

    from partparse.models.csn import ir_csn_26

    torch.manual_seed(seed)
    return ir_csn_26({h: len(n) for h, n in TINY_VIDEO_NAMES.items()}).eval()


def tiny_scorer_config():
    from partparse.pipeline.video_scorers import VideoScorerConfig

    return VideoScorerConfig(clip_len=4, frame_interval=2, num_clips=2, short_side=32, crop="center", crop_size=32,
                             batch_size=1)


def single_thread():
    """Generator for an autouse fixture: one intra-op thread (on a machine shared by several busy processes,
    two spinning threads made a YOLOF-R18 forward 30x slower), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_tiny_work_dirs(root: Path) -> dict[str, Path]:
    """Training work dirs (``recipe.yaml`` + ``latest.pth`` [+ ``label_spaces.json``]) of tiny random models,
    as ``partparse train`` leaves them, for :func:`partparse.engine.trained_models.load_trained`."""
    import torch

    from partparse.config import save_recipe
    from partparse.data.part_labels import LabelSpace
    from partparse.data.vocabulary import BODY_PARTS
    from partparse.engine.detection_recipe import DetectionRecipe
    from partparse.engine.model_builders import build_detection_model, build_pose_model, build_video_model
    from partparse.engine.pose_recipe import PoseRecipe
    from partparse.engine.video_recipe import VideoRecipe
    from partparse.io import write_json

    def detection(names, guided):
        r = DetectionRecipe()
        r.model.class_names, r.model.depth, r.model.encoder_channels, r.model.encoder_mid_channels = names, 18, 64, 16
        r.model.score_thresh, r.model.detections_per_img = 0.0, 20
        r.input.min_size, r.input.max_size, r.data.pose_guidance = 64, 128, guided
        return r, build_detection_model(r, load_pretrained=False)

    pose = PoseRecipe()
    pose.model.arch, pose.model.heatmap_size, pose.model.flip_test = "hrnet_w18_small", [24, 16], False
    pose.input.input_size = [96, 64]
    video = VideoRecipe()
    video.model.depth = 26
    c = video.clips
    c.clip_len, c.frame_interval, c.num_test_clips = 4, 2, 2
    c.short_side, c.test_crop, c.test_crop_size = 32, "center", 32
    spaces = {h: LabelSpace(n) for h, n in TINY_VIDEO_NAMES.items()}
    torch.manual_seed(0)
    runs = {"person": detection(["person"], False), "parts": detection(list(BODY_PARTS), True),
            "pose": (pose, build_pose_model(pose, load_pretrained=False)),
            "video": (video, build_video_model(video, spaces))}
    out = {}
    for name, (recipe, model) in runs.items():
        work = root / name
        save_recipe(recipe, work / "recipe.yaml")
        torch.save({"model": model.state_dict()}, work / "latest.pth")
        out[name] = work
    write_json(out["video"] / "label_spaces.json", TINY_VIDEO_NAMES)
    return out


def write_parse_recipe(path: Path, work_dirs: Mapping[str, Path], **parser) -> Path:
    """A parse recipe naming ``work_dirs``; ``parser`` entries override the parser section."""
    import yaml

    recipe = {"task": "parse", "name": "tiny",
              "models": {"person": str(work_dirs["person"]), "pose": str(work_dirs["pose"]),
                         "parts": str(work_dirs["parts"]), "video": [str(work_dirs["video"])]},
              "parser": {"top_k_persons": 2, "device": "cpu", **parser},
              "person": {"score_thr": 0.0}, "parts": {"score_thr": 0.0}}
    path.write_text(yaml.safe_dump(recipe))
    return path
