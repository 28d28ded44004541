"""The end-to-end part-level action parser: video file -> Kinetics-TPS prediction.

Per keyframe (every ``keyframe_step``-th decoded frame from frame 0: Kinetics-TPS annotates every 5th,
``img_00001.json``, ``img_00006.json``, ...): persons (top ``top_k_persons``), their keypoints, optional
box refinement (:func:`~partparse.pipeline.box_refinement.refine_person_box`), then the body parts on
each person crop, pose-guided or not. Per video: persons are tracked across keyframes
(:mod:`~partparse.pipeline.tracking`, ids in the output), the action and one state per coarse part
(:func:`~partparse.pipeline.video_labels.video_labels`), given to that part in every frame and for every
person (the report's video-level transform, ``part_states: video``), or, from the pose stream
(:mod:`~partparse.pipeline.pose_stream`: each track's keypoints), a state per body part in every keyframe
of every track (``pose``), fused with the video heads' (``fused``) and smoothed along the track.

Stages are the Protocols of :mod:`partparse.pipeline.stages`; :mod:`partparse.pipeline.adapters` puts our
models behind them. Inside the parser boxes are continuous ``xyxy`` (the Protocols' convention); the
prediction it returns has Kinetics-TPS inclusive boxes (``x2 - 1``), rounded to 0.01 pixel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from partparse.data.part_labels import state_of_label
from partparse.data.tps_validation import MAX_HUMANS
from partparse.data.video_reader import VideoReader
from partparse.data.vocabulary import COARSE_PARTS, coarse_part
from partparse.pipeline.box_refinement import refine_person_box
from partparse.pipeline.part_state_transfer import ClassPriorPartStates
from partparse.pipeline.pose_stream import PoseStream, PoseStreamScores, smooth_along_tracks
from partparse.pipeline.stages import (
    PartDetections,
    PartDetector,
    PersonDetector,
    PoseEstimator,
    VideoScorer,
    estimate_frames,
)
from partparse.pipeline.tracking import TrackerConfig, track_persons
from partparse.pipeline.video_labels import VideoLabels, video_labels
from partparse.pipeline.video_scorers import FusedVideoScorer
from partparse.structures import FramePrediction, PartProposal, PersonPrediction, VideoPrediction, frame_key

#: Stage names of :attr:`ParseResult.timings`, in pipeline order.
STAGES = ("decode", "person", "pose", "refine", "parts", "video", "track", "pose_stream")
#: ``parser.part_states``: where part states come from.
PART_STATE_MODES = ("video", "class_prior", "pose", "fused")
#: ``parser.action_source``: where the action comes from (``auto``: see :class:`ParserConfig`).
ACTION_SOURCES = ("auto", "video", "pose", "fused")


@dataclass
class ParserConfig:
    """Every switch of the report's ablations (the ``parser`` section of a parse recipe).

    ``keyframe_step``: parse decoded frames 0, K, 2K, ...; ``top_k_persons``: persons kept per keyframe
    (<= 10); ``box_refinement``: grow person boxes to hold their keypoints scoring ``>= refine_score_thr``
    plus ``refine_margin`` of the box size; ``pose_guidance``: give the part detector the keypoints (dots
    on the crop) or ``None``; ``part_states``: ``"video"`` (per-part video heads, class prior where a part
    has no head), ``"class_prior"``, ``"pose"`` (the pose stream's state of each body part in each
    keyframe of each track) or ``"fused"`` (the pose stream's per-keyframe probabilities, weight
    ``pose_state_weight``, averaged with the video head's, the rest); both pose modes smooth the
    probabilities over ``state_smoothing`` keyframes along each track and fall back to the video mode for
    persons without keypoints; ``action_source``: ``video`` (the CSNs), ``pose`` (the pose stream's tracks),
    ``fused`` (weight ``pose_action_weight`` on the pose stream) or ``auto`` (``video`` with the video
    modes, ``fused`` with the pose modes; whichever stream exists when only one does); ``tracking``: the
    ByteTrack settings; ``state_given_action``: a part head's top state among the labels
    of the predicted action only; ``missing_state``: state of parts with no source (``None``: leave them
    out); ``frame_batch_size``: keyframes decoded and detected together; ``device``: ``auto | cpu | cuda``
    (where a recipe's models are put; the parser runs stages on their models' devices);
    ``decode_max_side``: frames whose longer side is larger are decoded scaled down to it (the models
    resize their inputs to far less; a 4K frame batch otherwise takes GBs), the results scaled back to
    the video's pixels; ``None``: full size.
    """

    keyframe_step: int = 5
    top_k_persons: int = 10
    box_refinement: bool = True
    refine_score_thr: float = 0.3
    refine_margin: float = 0.05
    pose_guidance: bool = True
    part_states: str = "video"
    action_source: str = "auto"
    pose_action_weight: float = 0.5
    pose_state_weight: float = 0.7
    state_smoothing: int = 1
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    state_given_action: bool = False
    missing_state: str | None = "unknown"
    frame_batch_size: int = 8
    device: str = "auto"
    decode_max_side: int | None = 1920

    def __post_init__(self) -> None:
        if self.keyframe_step < 1:
            raise ValueError(f"keyframe_step must be >= 1, got {self.keyframe_step}")
        if not 1 <= self.top_k_persons <= MAX_HUMANS:
            raise ValueError(f"top_k_persons must be 1..{MAX_HUMANS} (the evaluator's limit), got {self.top_k_persons}")
        if self.part_states not in PART_STATE_MODES:
            raise ValueError(f"part_states must be one of {', '.join(PART_STATE_MODES)}, got {self.part_states!r}")
        if self.action_source not in ACTION_SOURCES:
            raise ValueError(f"action_source must be one of {', '.join(ACTION_SOURCES)}, got {self.action_source!r}")
        for name in ("pose_action_weight", "pose_state_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.state_smoothing <= 99:
            raise ValueError(f"state_smoothing must be 1..99 keyframes, got {self.state_smoothing}")
        if self.frame_batch_size < 1:
            raise ValueError(f"frame_batch_size must be >= 1, got {self.frame_batch_size}")
        if self.decode_max_side is not None and self.decode_max_side < 32:
            raise ValueError(f"decode_max_side must be >= 32 or null, got {self.decode_max_side}")


@dataclass
class FrameParse:
    """Raw stage outputs of one keyframe, continuous ``xyxy`` frame pixels: ``boxes (N, 4)`` (refined
    when switched on), ``detected_boxes`` (before refinement), ``scores (N,)``, ``keypoints (N, 17, 2)``
    and ``keypoint_scores (N, 17)`` or ``None``, the parts of each person, and (once the video is tracked)
    each person's ``track_ids (N,)`` and ``part_states`` ``[{body part: state}]`` (pose modes only)."""

    index: int
    boxes: np.ndarray
    detected_boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None
    keypoint_scores: np.ndarray | None
    parts: list[PartDetections]
    track_ids: np.ndarray | None = None
    part_states: list[dict[str, str]] | None = None


@dataclass
class ParseResult:
    """Everything the parser found in one video; ``prediction`` is the submission entry."""

    prediction: VideoPrediction
    labels: VideoLabels
    video_scores: dict[str, np.ndarray]
    class_names: dict[str, list[str]]
    frames: list[FrameParse]
    timings: dict[str, float]           # seconds per stage (STAGES) and "total"
    num_frames: int
    fps: float
    width: int
    height: int
    pose_scores: PoseStreamScores | None = None   # the pose stream's outputs (None without one)

    def summary(self) -> dict:
        """JSON-ready facts of the run (no boxes): action, states, top-5 scores per head, timings."""
        top = {}
        for head, p in self.video_scores.items():
            order = np.argsort(-p, kind="stable")[:5]
            top[head] = [[self.class_names[head][i], float(p[i])] for i in order]
        return {"video_id": self.prediction.video_id, "action": self.labels.action,
                "action_score": self.labels.action_score, "part_states": dict(self.labels.states),
                "state_sources": dict(self.labels.sources), "top5": top,
                "timings": {k: round(v, 6) for k, v in self.timings.items()},
                "num_frames": self.num_frames, "keyframes": len(self.frames), "fps": self.fps,
                "width": self.width, "height": self.height}


class PartParser:
    """Parse videos with the given stages (see the module docstring).

    Args:
        config: the ablation switches.
        person_detector: required.
        pose_estimator: needed by ``box_refinement`` and ``pose_guidance`` unless the person detector
            returns keypoints.
        part_detector: ``None``: persons only (no parts in the output).
        video_scorers: fused with equal weights when several (pass one
            :class:`~partparse.pipeline.video_scorers.FusedVideoScorer` for other weights).
        state_prior: the class prior (used by ``part_states="class_prior"`` and for parts with no head).
        pose_stream: the skeleton model (needed by ``part_states`` ``pose``/``fused`` and ``action_source``
            ``pose``/``fused``).
    """

    def __init__(self, config: ParserConfig, person_detector: PersonDetector,
                 pose_estimator: PoseEstimator | None = None, part_detector: PartDetector | None = None,
                 video_scorers: Sequence[VideoScorer] = (), state_prior: ClassPriorPartStates | None = None,
                 pose_stream: PoseStream | None = None) -> None:
        if config.part_states == "class_prior" and state_prior is None:
            raise ValueError("part_states='class_prior' needs a state_prior")
        if pose_stream is None and (config.part_states in ("pose", "fused")
                                    or config.action_source in ("pose", "fused")):
            raise ValueError(f"part_states={config.part_states!r}, action_source={config.action_source!r} need a "
                             "pose stream (models.pose_stream)")
        self.config = config
        self.person_detector = person_detector
        self.pose_estimator = pose_estimator
        self.part_detector = part_detector
        if len(video_scorers) > 1:
            video_scorers = [FusedVideoScorer(video_scorers)]
        self.video_scorer = video_scorers[0] if video_scorers else None
        self.state_prior = state_prior
        self.pose_stream = pose_stream

    def parse_video(self, path: str | Path) -> VideoPrediction:
        """The Kinetics-TPS prediction of one video (its id is the file name without extension)."""
        return self.parse(path).prediction

    def parse(self, path: str | Path, progress: Callable[[int, int], None] | None = None) -> ParseResult:
        """Parse one video; ``progress(keyframes done, keyframes total)`` is called after each batch."""
        path = Path(path)
        timer = _StageTimer()
        frames: list[FrameParse] = []
        with VideoReader(path, max_side=self.config.decode_max_side) as reader:
            info = reader.info
            scale = (info.width / reader.out_width, info.height / reader.out_height)
            keyframes = np.arange(0, info.num_frames, self.config.keyframe_step)
            for start in range(0, len(keyframes), self.config.frame_batch_size):
                batch = keyframes[start:start + self.config.frame_batch_size]
                with timer("decode"):
                    images = reader.read_frames(batch)
                frames += [_to_video_pixels(f, *scale) for f in self._parse_frames(batch, images, timer)]
                if progress is not None:
                    progress(len(frames), len(keyframes))
        with timer("video"):
            persons = [(f.detected_boxes, f.scores) for f in frames]
            scores = self.video_scorer.score(str(path), persons) if self.video_scorer is not None else {}
        names = {h: list(n) for h, n in self.video_scorer.class_names.items()} if self.video_scorer else {}
        with timer("track"):
            ids = track_persons([f.detected_boxes for f in frames], [f.scores for f in frames],
                                [f.index for f in frames], info.fps, self.config.tracking)
            for f, i in zip(frames, ids, strict=True):
                f.track_ids = i
        pose = None
        if self.pose_stream is not None:
            with timer("pose_stream"):
                pose = self.pose_stream.score([f.keypoints for f in frames], [f.keypoint_scores for f in frames],
                                              [f.scores for f in frames], ids)
        prediction, labels, scores, names = self.label_video(path.stem, frames, scores, names, pose)
        timings = dict(timer.seconds)
        timings["total"] = timer.total()
        return ParseResult(prediction, labels, scores, names, frames, timings, info.num_frames, info.fps,
                           info.width, info.height, pose)

    def label_video(self, video_id: str, frames: list[FrameParse], scores: dict[str, np.ndarray],
                    names: dict[str, list[str]], pose: PoseStreamScores | None = None):
        """``(prediction, labels, scores, names)`` of tracked keyframes from the video heads' ``scores`` (over
        ``names``) and the pose stream's: the action and the part states this parser's config asks for.
        (Parsing is split here so that the same stage outputs can be labelled under other settings.)"""
        if pose is not None:
            scores, names = _with_pose_action(scores, names, pose.action, self.pose_stream.class_names["action"],
                                              self._action_source(), self.config.pose_action_weight)
        coarse = list(dict.fromkeys([*COARSE_PARTS,
                                     *(coarse_part(p) for f in frames for d in f.parts for p in d.parts)]))
        mode = self.config.part_states
        labels = video_labels(scores, names, coarse, "video" if mode in ("pose", "fused") else mode, self.state_prior,
                              self.config.missing_state, self.config.state_given_action)
        for f in frames:
            f.part_states = None
        if pose is not None and mode in ("pose", "fused"):
            self._per_frame_states(frames, pose.states, [f.track_ids for f in frames], scores, names, labels)
        prediction = VideoPrediction(video_id, labels.action, [_frame_prediction(f, labels) for f in frames])
        return prediction, labels, scores, names

    def _action_source(self) -> str:
        source = self.config.action_source
        if source == "auto":
            source = "fused" if self.config.part_states in ("pose", "fused") else "video"
        return source

    def _per_frame_states(self, frames: list[FrameParse], pose_states, ids, scores, names, labels: VideoLabels) -> None:
        """Each person's state of each body part in each keyframe (``frame.part_states``), from the pose
        stream (smoothed along its track) alone or fused with the part's video head; ``labels`` get each
        coarse part's most frequent state and the source."""
        cfg = self.config
        smoothed = smooth_along_tracks(pose_states, ids, cfg.state_smoothing)
        stream_names = self.pose_stream.class_names
        counts: dict[str, dict[str, int]] = {}
        for frame, persons in zip(frames, smoothed, strict=True):
            frame.part_states = []
            for probs in persons:
                states = {}
                for part, p in probs.items():
                    part_names = stream_names[part]
                    head = coarse_part(part)
                    if cfg.part_states == "fused" and head in scores:
                        video = _state_probs(scores[head], names[head], part_names,
                                             labels.action if cfg.state_given_action else None)
                        p = cfg.pose_state_weight * p + (1 - cfg.pose_state_weight) * video
                    states[part] = part_names[int(np.argmax(p))]
                    counts.setdefault(head, {}).setdefault(states[part], 0)
                    counts[head][states[part]] += 1
                frame.part_states.append(states)
        for head, c in counts.items():
            labels.states[head] = max(sorted(c), key=lambda s: c[s])
            labels.sources[head] = cfg.part_states

    def _parse_frames(self, indices: np.ndarray, images: np.ndarray, timer: _StageTimer) -> list[FrameParse]:
        cfg = self.config
        with timer("person"):
            detections = [d.top(cfg.top_k_persons) for d in self.person_detector.detect(list(images))]
        poses = self._poses(images, detections, timer)
        out = []
        per_frame = zip(indices.tolist(), images, detections, poses, strict=True)
        for index, image, det, (keypoints, keypoint_scores) in per_frame:
            if (cfg.box_refinement or cfg.pose_guidance) and keypoints is None and len(det):
                raise ValueError("box_refinement and pose_guidance need keypoints: give the parser a pose "
                                 "estimator (or switch them off)")
            boxes = det.boxes
            if cfg.box_refinement and len(det):
                with timer("refine"):
                    height, width = image.shape[:2]
                    boxes = refine_person_box(det.boxes, keypoints, keypoint_scores, cfg.refine_score_thr,
                                              cfg.refine_margin)
                    # continuous coordinates: a box may reach the far edge (x2 = width), not only width - 1
                    boxes = np.clip(boxes, 0, np.array([width, height, width, height], np.float32))
            parts: list[PartDetections] = [PartDetections() for _ in range(len(det))]
            if self.part_detector is not None and len(det):
                with timer("parts"):
                    guide = cfg.pose_guidance
                    parts = self.part_detector.detect_parts(image, boxes, keypoints if guide else None,
                                                            keypoint_scores if guide else None)
            out.append(FrameParse(index, boxes, det.boxes, det.scores, keypoints, keypoint_scores, parts))
        return out

    def _poses(self, images: np.ndarray, detections: list, timer: _StageTimer) -> list[tuple]:
        """``(keypoints, scores)`` per frame: the person detector's, else the pose estimator's for the persons
        of all frames at once (one forward pass of one or two crops costs 2-3 times more per crop than
        one of 16; pose crops have one size, so batching does not change them). Part detection stays
        frame by frame: its batches pad crops to one size, so batching across frames would change parts."""
        poses = [(d.keypoints, d.keypoint_scores) for d in detections]
        todo = [i for i, d in enumerate(detections) if d.keypoints is None and len(d)]
        if todo and self.pose_estimator is not None:
            with timer("pose"):
                found = estimate_frames(self.pose_estimator, [images[i] for i in todo],
                                        [detections[i].boxes for i in todo])
            for i, pose in zip(todo, found, strict=True):
                poses[i] = pose
        return poses


def _to_video_pixels(frame: FrameParse, sx: float, sy: float) -> FrameParse:
    """``frame`` parsed on a scaled-down decode, in the video's own pixels (unchanged when not scaled)."""
    if sx == 1 and sy == 1:
        return frame
    box_scale, point_scale = np.array([sx, sy, sx, sy], np.float32), np.array([sx, sy], np.float32)
    parts = [PartDetections({n: (np.asarray(b, np.float32) * box_scale, s) for n, (b, s) in d.parts.items()})
             for d in frame.parts]
    keypoints = None if frame.keypoints is None else frame.keypoints * point_scale
    return FrameParse(frame.index, frame.boxes * box_scale, frame.detected_boxes * box_scale, frame.scores,
                      keypoints, frame.keypoint_scores, parts)


def _inclusive(box: np.ndarray) -> tuple[float, float, float, float]:
    """Continuous ``xyxy`` -> Kinetics-TPS inclusive corners (``x2 - 1``, never left of ``x1``)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (round(x1, 2), round(y1, 2), round(max(x1, x2 - 1), 2), round(max(y1, y2 - 1), 2))


def _with_pose_action(scores: dict[str, np.ndarray], names: dict[str, list[str]], pose_action: np.ndarray,
                      pose_names: Sequence[str], source: str, weight: float) -> tuple[dict, dict]:
    """``scores``/``names`` with the pose stream's action probabilities as head ``pose_action``, and the
    ``action`` head replaced by them (``source="pose"``, or ``"fused"`` without CSNs) or by
    ``(1 - weight) * CSNs + weight * pose stream`` (``"fused"``, over the CSNs' classes then those only the
    pose stream knows; a class one stream does not know scores 0 there)."""
    scores, names = dict(scores), dict(names)
    scores["pose_action"], names["pose_action"] = np.asarray(pose_action, np.float32), list(pose_names)
    if source == "video" and "action" in scores:
        return scores, names
    if source == "pose" or "action" not in scores:
        scores["action"], names["action"] = scores["pose_action"], names["pose_action"]
        return scores, names
    union = list(dict.fromkeys([*names["action"], *pose_names]))
    video = dict(zip(names["action"], np.asarray(scores["action"], np.float64), strict=True))
    pose = dict(zip(pose_names, np.asarray(pose_action, np.float64), strict=True))
    scores["action"] = np.array([(1 - weight) * video.get(n, 0.0) + weight * pose.get(n, 0.0) for n in union],
                                np.float32)
    names["action"] = union
    return scores, names


def _state_probs(probs: np.ndarray, labels: Sequence[str], states: Sequence[str], action: str | None) -> np.ndarray:
    """A video part head's probabilities (labels ``<action>_<Part>_<state>``) summed per state, in the
    order of ``states`` (only the labels of ``action`` when given and the head has any), normalised."""
    out = np.zeros(len(states), np.float64)
    index = {s: i for i, s in enumerate(states)}
    use = [i for i, n in enumerate(labels) if action is None or n.startswith(f"{action}_")] or list(range(len(labels)))
    for i in use:
        j = index.get(state_of_label(labels[i]))
        if j is not None:
            out[j] += float(probs[i])
    total = out.sum()
    return out / total if total > 0 else np.full(len(states), 1.0 / len(states))


def _frame_prediction(frame: FrameParse, labels: VideoLabels) -> FramePrediction:
    persons = []
    for i, box in enumerate(frame.boxes):
        parts = {}
        own = frame.part_states[i] if frame.part_states is not None else {}
        for name, (part_box, score) in frame.parts[i].parts.items():
            state = own.get(name, labels.states.get(coarse_part(name)))
            if state is not None:
                parts[name] = [PartProposal(_inclusive(part_box), state, round(score, 4))]
        keypoints = None
        if frame.keypoints is not None:
            keypoints = [(round(float(x), 2), round(float(y), 2), round(float(s), 4))
                         for (x, y), s in zip(frame.keypoints[i], frame.keypoint_scores[i], strict=True)]
        track = int(frame.track_ids[i]) if frame.track_ids is not None else None
        persons.append(PersonPrediction(_inclusive(box), parts, round(float(frame.scores[i]), 4), keypoints, track))
    return FramePrediction(frame_key(frame.index), persons)


class _StageTimer:
    """Wall-clock seconds per stage; waits for queued CUDA work so the time lands on its stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {s: 0.0 for s in STAGES}
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        _sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            _sync()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        return time.perf_counter() - self._start


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
