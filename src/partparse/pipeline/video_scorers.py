"""Video-level class scores behind the :class:`~partparse.pipeline.stages.VideoScorer` Protocol.

:class:`CSNVideoScorer` scores one video with a CSN classifier exactly as validation does
(:func:`partparse.engine.video_task.predict_video_scores`): ``num_clips`` test clips
(:class:`~partparse.data.clip_sampling.ClipSampler` in test mode), the evaluation transform, softmax per
head averaged over every clip and crop. :class:`FusedVideoScorer` is the report's ensemble: a weighted
average of several scorers' probabilities, with per-head weights (:func:`~partparse.pipeline.score_fusion.fuse_scores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import nn

from partparse.data.clip_modality import ClipModality
from partparse.data.clip_sampling import ClipSampler
from partparse.data.person_window import crop_to_window, person_window
from partparse.data.video_reader import VideoReader
from partparse.data.video_transforms import CSN_MEAN, CSN_STD, EvalClipTransformConfig, build_eval_transform
from partparse.pipeline.score_fusion import fuse_scores
from partparse.pipeline.stages import KeyframePersons, VideoScorer


@dataclass
class VideoScorerConfig:
    """Test-time clips of one classifier; the values of its training recipe's ``clips`` section
    (:class:`partparse.engine.video_recipe.ClipConfig`). ``batch_size``: clip views a forward pass."""

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 7
    short_side: int = 256
    crop: str = "three"                 # center | three
    crop_size: int = 256
    mean: list[float] = field(default_factory=lambda: list(CSN_MEAN))
    std: list[float] = field(default_factory=lambda: list(CSN_STD))
    modality: str = "rgb"               # rgb | rgb_diff
    diff_offset: int = 2
    diff_scale: float = 3.0
    person_centred: bool = False        # clips cut around the main person of the parser's detections
    person_margin: float = 1.2
    batch_size: int = 8

    @classmethod
    def from_clip_config(cls, clips, **overrides) -> VideoScorerConfig:
        """From a video recipe's ``clips`` section; ``overrides`` (``num_clips=3``, ...) win."""
        values = dict(clip_len=clips.clip_len, frame_interval=clips.frame_interval, num_clips=clips.num_test_clips,
                      short_side=clips.short_side, crop=clips.test_crop, crop_size=clips.test_crop_size,
                      mean=list(clips.mean), std=list(clips.std), modality=clips.modality,
                      diff_offset=clips.diff_offset, diff_scale=clips.diff_scale,
                      person_centred=clips.person_centred, person_margin=clips.person_margin)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def parse_time_window(persons: KeyframePersons, width: int, height: int, margin: float):
    """The person-centred window of a video from the parser's persons: the rule training applies to the
    ground truth (:func:`~partparse.data.person_window.person_window` without scores: the largest box is
    the anchor), among the boxes the person stage kept. Anchoring on the most confident box instead
    depends on how the detector's scores are spread: with the stride-16 person detector it chose other
    persons than training would, and the CSN ensemble recognised 233 of 300 actions instead of 240
    (bench val and seed 8888, docs/benchmarks.md)."""
    return person_window([b for b, _ in persons], None, width, height, margin)


class CSNVideoScorer:
    """``{head: (num_classes,) probabilities}`` of one video with a multi-head video classifier.

    Args:
        model: ``clips (N, 3, T, H, W) -> {head: logits (N, C)}`` (:class:`partparse.models.csn.VideoClassifier`).
        class_names: ``{head: names}`` in the order of the head's outputs (a training run's
            ``label_spaces.json``); every head of the model needs its names.
    """

    def __init__(self, model: nn.Module, class_names: Mapping[str, Sequence[str]],
                 config: VideoScorerConfig | None = None) -> None:
        config = config if config is not None else VideoScorerConfig()
        heads = getattr(model, "heads", None)
        if heads is not None:
            for name, head in heads.items():
                if name not in class_names:
                    raise ValueError(f"no class names for head {name!r} (have: {', '.join(class_names)})")
                out = getattr(getattr(head, "fc", None), "out_features", len(class_names[name]))
                if out != len(class_names[name]):
                    raise ValueError(f"head {name!r} has {out} classes but {len(class_names[name])} names")
        self.model = model.eval()
        self.class_names = {h: list(n) for h, n in class_names.items()}
        self.config = config
        self.sampler = ClipSampler(config.clip_len, config.frame_interval, config.num_clips, test_mode=True)
        self.modality = ClipModality(config.modality, config.diff_offset, config.diff_scale)
        self.transform = build_eval_transform(EvalClipTransformConfig(
            short_side=config.short_side, crop=config.crop, crop_size=config.crop_size,
            mean=tuple(config.mean), std=tuple(config.std)))

    def clips(self, video_path: str, persons: KeyframePersons | None = None) -> torch.Tensor:
        """Every test view of the video: float ``(num_clips * views, 3, T, s, s)``, clip-major. A
        person-centred scorer cuts its clips around the main person of ``persons`` (training cut them
        around the ground-truth boxes with the same rule); without persons it sees the whole frame."""
        cfg = self.config
        centred = cfg.person_centred and persons is not None
        with VideoReader(video_path, short_side=None if centred else cfg.short_side) as reader:
            n = reader.num_frames
            inds = self.modality.expand(self.sampler(self.modality.base_frames(n)), n)
            wanted, where = np.unique(inds.reshape(-1), return_inverse=True)
            frames = reader.read_frames(wanted)
            if centred:
                window = parse_time_window(persons, reader.width, reader.height, cfg.person_margin)
                frames = crop_to_window(frames, window, cfg.short_side)
            elif cfg.person_centred:  # no detections to centre on: the whole frame, as training does
                frames = crop_to_window(frames, None, cfg.short_side)
        frames = frames[where].reshape(*inds.shape, *frames.shape[1:])  # (clips, T', H, W, 3)
        views = [self.modality.apply(self.transform(clip)) for clip in frames]
        return torch.cat([v if v.ndim == 5 else v[None] for v in views])

    @property
    def clip_key(self) -> tuple:
        """What :meth:`clips` depends on besides its arguments: every config field but ``batch_size``.
        Scorers with equal keys see identical views, so an ensemble decodes the video once for them."""
        config = self.config
        return tuple((f.name, repr(getattr(config, f.name))) for f in fields(config) if f.name != "batch_size")

    def score(self, video_path: str, persons: KeyframePersons | None = None) -> dict[str, np.ndarray]:
        return self.score_views(self.clips(video_path, persons))

    @torch.no_grad()
    def score_views(self, views: torch.Tensor) -> dict[str, np.ndarray]:
        """Scores of views made by :meth:`clips` (of this scorer, or of one with the same :attr:`clip_key`)."""
        device = next(self.model.parameters()).device
        sums: dict[str, torch.Tensor] = {}
        for start in range(0, len(views), self.config.batch_size):
            out = self.model(views[start:start + self.config.batch_size].to(device))
            for head, logits in out.items():
                p = logits.float().softmax(-1).sum(0)
                sums[head] = p if head not in sums else sums[head] + p
        return {h: (s / len(views)).cpu().numpy().astype(np.float64) for h, s in sums.items()}


class FusedVideoScorer:
    """Weighted average of several scorers' probabilities, head by head.

    ``weights``: ``{head: [w per scorer]}``; a head missing there gets ``default`` (equal weights when
    ``None``). A head some scorers lack is fused over those that have it (their weights, renormalised);
    scorers sharing a head must name its classes identically.
    """

    def __init__(self, scorers: Sequence[VideoScorer], weights: Mapping[str, Sequence[float]] | None = None,
                 default: Sequence[float] | None = None) -> None:
        if not scorers:
            raise ValueError("FusedVideoScorer needs at least one scorer")
        self.scorers = list(scorers)
        self.weights = {h: [float(x) for x in w] for h, w in (weights or {}).items()}
        self.default = [1.0] * len(scorers) if default is None else [float(x) for x in default]
        for head, w in [*self.weights.items(), ("default", self.default)]:
            if len(w) != len(scorers):
                raise ValueError(f"fusion weights of {head!r}: {len(w)} values for {len(scorers)} scorers")
        names: dict[str, list[str]] = {}
        for i, s in enumerate(self.scorers):
            for head, n in s.class_names.items():
                if head in names and list(n) != names[head]:
                    raise ValueError(f"scorer {i} names the classes of head {head!r} differently from scorer 0")
                names.setdefault(head, list(n))
        self.class_names = names

    def score(self, video_path: str, persons: KeyframePersons | None = None) -> dict[str, np.ndarray]:
        per_model = self.scores_per_model(video_path, persons)
        out = {}
        for head in self.class_names:
            have = [i for i, m in enumerate(per_model) if head in m]
            w = self.weights.get(head, self.default)
            if sum(w[i] for i in have) <= 0:  # only zero-weight models have the head: average them
                w = [1.0] * len(per_model)
            out[head] = fuse_scores([per_model[i][head][None] for i in have], [w[i] for i in have])[0]
        return out

    def scores_per_model(self, video_path: str, persons: KeyframePersons | None = None) -> list[dict[str, np.ndarray]]:
        """Each scorer's scores. Scorers that cut their views alike (:class:`CSNVideoScorer` with the same
        :attr:`~CSNVideoScorer.clip_key`) share one decoding of the video: decoding and cutting the clips
        cost as much as one small CSN's forward passes."""
        views: dict[tuple, torch.Tensor] = {}
        out = []
        for scorer in self.scorers:
            key = getattr(scorer, "clip_key", None)
            if key is None or not hasattr(scorer, "score_views"):
                out.append(scorer.score(video_path, persons))
                continue
            if key not in views:
                views[key] = scorer.clips(video_path, persons)
            out.append(scorer.score_views(views[key]))
        return out
