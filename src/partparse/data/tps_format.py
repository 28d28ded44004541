"""Read and write the Kinetics-TPS files exactly as the official evaluation reads them.

Ground truth (a folder): ``gt_vid_result.json`` ``{video: action}`` and ``gt_part_result.json``
``{video: {frame_key: {"humans": [{"box": [x1,y1,x2,y2], "parts": {part: {"box": [...], "verb": state}}}]}}}``.
Submission (a folder): ``pred_vid_result.json`` and ``pred_part_result.json``, where each part holds up to
5 ranked proposals as parallel lists ``{"box": [[...], ...], "verb": [state, ...]}``.

The typed side is :mod:`partparse.structures`. Dict order is kept everywhere: the official metric sums in
file order, so a round trip must not reorder videos, frames, persons or parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from partparse.data.tps_validation import Problem, check_part_results, check_video_results, errors
from partparse.data.vocabulary import Vocabulary
from partparse.io import InputError, read_json, write_json
from partparse.structures import (
    FrameAnnotation,
    FramePrediction,
    PartAnnotation,
    PartProposal,
    PersonAnnotation,
    PersonPrediction,
    VideoAnnotation,
    VideoPrediction,
    as_box,
)

GT_VID_FILE = "gt_vid_result.json"
GT_PART_FILE = "gt_part_result.json"
PRED_VID_FILE = "pred_vid_result.json"
PRED_PART_FILE = "pred_part_result.json"


def _raise_on_errors(problems: list[Problem]) -> None:
    errs = list(errors(problems))
    if errs:
        more = f" (and {len(errs) - 1} more; run `partparse validate` for the list)" if len(errs) > 1 else ""
        raise InputError(f"{errs[0]}{more}")


def read_result_files(folder: str | Path, submission: bool) -> tuple[dict, dict]:
    """Load the raw ``(vid_result, part_result)`` dicts of a GT or submission folder, checked.

    A missing folder or file, malformed JSON or a structural error raises :class:`InputError` naming
    the file and the first problem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    vid_file, part_file = (PRED_VID_FILE, PRED_PART_FILE) if submission else (GT_VID_FILE, GT_PART_FILE)
    vid, part = read_json(folder / vid_file), read_json(folder / part_file)
    problems = check_video_results(vid, str(folder / vid_file))
    problems += check_part_results(part, str(folder / part_file), submission=submission)
    _raise_on_errors(problems)
    return vid, part


# ----------------------------------------------------------------------------------------- ground truth
def ground_truth_from_json(vid_result: Mapping[str, str], part_result: Mapping[str, Any]) -> dict[str, VideoAnnotation]:
    """Typed ground truth from the two GT dicts; videos follow ``vid_result`` (what the metric counts)."""
    videos: dict[str, VideoAnnotation] = {}
    for vid, action in vid_result.items():
        frames = [FrameAnnotation(key, [_person_annotation(h) for h in frame["humans"]])
                  for key, frame in part_result.get(vid, {}).items()]
        videos[vid] = VideoAnnotation(vid, action, frames)
    return videos


def _person_annotation(h: Mapping[str, Any]) -> PersonAnnotation:
    parts = {name: PartAnnotation(as_box(p["box"]), p["verb"]) for name, p in h["parts"].items()}
    kps = h.get("keypoints")
    return PersonAnnotation(as_box(h["box"]), parts, [tuple(k) for k in kps] if kps else None)


def ground_truth_to_json(videos: Iterable[VideoAnnotation]) -> tuple[dict, dict]:
    """The ``(gt_vid_result, gt_part_result)`` dicts of typed ground truth."""
    vid_result, part_result = {}, {}
    for v in videos:
        vid_result[v.video_id] = v.action
        part_result[v.video_id] = {f.key: {"humans": [_person_annotation_json(p) for p in f.persons]}
                                   for f in v.frames}
    return vid_result, part_result


def _person_annotation_json(p: PersonAnnotation) -> dict:
    return {"box": list(p.box),
            "parts": {name: {"box": list(part.box), "verb": part.state} for name, part in p.parts.items()}}


def load_ground_truth(folder: str | Path) -> dict[str, VideoAnnotation]:
    """Read a ground-truth folder (``gt_vid_result.json`` + ``gt_part_result.json``)."""
    return ground_truth_from_json(*read_result_files(folder, submission=False))


def write_ground_truth(videos: Iterable[VideoAnnotation], folder: str | Path) -> None:
    """Write a ground-truth folder atomically (each file is replaced whole or not at all)."""
    vid_result, part_result = ground_truth_to_json(videos)
    write_json(Path(folder) / GT_VID_FILE, vid_result)
    write_json(Path(folder) / GT_PART_FILE, part_result)


# ------------------------------------------------------------------------------------------- submission
def submission_from_json(vid_result: Mapping[str, str], part_result: Mapping[str, Any]) -> dict[str, VideoPrediction]:
    """Typed predictions from the two submission dicts (videos of either file, ``vid_result`` first)."""
    videos: dict[str, VideoPrediction] = {}
    for vid in list(vid_result) + [v for v in part_result if v not in vid_result]:
        frames = [FramePrediction(key, [_person_prediction(h) for h in frame["humans"]])
                  for key, frame in part_result.get(vid, {}).items()]
        videos[vid] = VideoPrediction(vid, vid_result.get(vid, ""), frames)
    return videos


def _person_prediction(h: Mapping[str, Any]) -> PersonPrediction:
    parts = {}
    for name, p in h["parts"].items():
        scores = p.get("score") or [None] * len(p["verb"])
        parts[name] = [PartProposal(as_box(b), v, s) for b, v, s in zip(p["box"], p["verb"], scores, strict=True)]
    kps = h.get("keypoints")
    track = h.get("track_id")
    return PersonPrediction(as_box(h["box"]), parts, h.get("score"), [tuple(k) for k in kps] if kps else None,
                            int(track) if isinstance(track, int) and not isinstance(track, bool) else None)


def submission_to_json(videos: Iterable[VideoPrediction]) -> tuple[dict, dict]:
    """The ``(pred_vid_result, pred_part_result)`` dicts; person/part scores go in extra keys."""
    vid_result, part_result = {}, {}
    for v in videos:
        vid_result[v.video_id] = v.action
        part_result[v.video_id] = {f.key: {"humans": [_person_prediction_json(p) for p in f.persons]}
                                   for f in v.frames}
    return vid_result, part_result


def _person_prediction_json(p: PersonPrediction) -> dict:
    out: dict[str, Any] = {"box": list(p.box), "parts": {}}
    if p.score is not None:
        out["score"] = p.score
    for name, props in p.parts.items():
        part: dict[str, Any] = {"box": [list(q.box) for q in props], "verb": [q.state for q in props]}
        if any(q.score is not None for q in props):
            part["score"] = [q.score for q in props]
        out["parts"][name] = part
    return out


def load_submission(folder: str | Path) -> dict[str, VideoPrediction]:
    """Read a submission folder (``pred_vid_result.json`` + ``pred_part_result.json``)."""
    return submission_from_json(*read_result_files(folder, submission=True))


def write_submission(videos: Iterable[VideoPrediction], folder: str | Path) -> None:
    """Write a submission folder atomically, in the layout the official evaluator reads."""
    vid_result, part_result = submission_to_json(videos)
    write_json(Path(folder) / PRED_VID_FILE, vid_result)
    write_json(Path(folder) / PRED_PART_FILE, part_result)


# ------------------------------------------------------------------------ per-frame dataset annotations
def read_frame_annotation(path: str | Path, vocab: Vocabulary | None = None) -> FrameAnnotation:
    """One per-frame JSON of a dataset copy (``.../<video>/<video>/img_00001.json``).

    It must hold a ``humans`` list like ``gt_part_result``; extra keys (``number``, ``name``, objects)
    are ignored. Anything else raises :class:`InputError` naming the file.
    """
    path = Path(path)
    data = read_json(path)
    frame = {path.name: data}
    _raise_on_errors(check_part_results({path.parent.name: frame}, str(path), submission=False, vocab=vocab))
    return FrameAnnotation(path.name, [_person_annotation(h) for h in data["humans"]])


def load_annotation_tree(root: str | Path, vocab: Vocabulary | None = None) -> dict[str, VideoAnnotation]:
    """Ground truth of a dataset annotation tree ``<root>/<class>/<video>/<video>/img_%05d.json``.

    Videos are sorted by class then name; frames by frame number.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: annotation folder not found")
    videos: dict[str, VideoAnnotation] = {}
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for video_dir in sorted(p for p in class_dir.iterdir() if p.is_dir()):
            frame_dir = video_dir / video_dir.name
            if not frame_dir.is_dir():
                frame_dir = video_dir
            files = sorted(frame_dir.glob("img_*.json"))
            if not files:
                raise InputError(f"{frame_dir}: no img_NNNNN.json annotation files")
            frames = [read_frame_annotation(f, vocab) for f in files]
            videos[video_dir.name] = VideoAnnotation(video_dir.name, class_dir.name, frames)
    return videos
