"""The files ``partparse parse`` writes: one JSON per video, and the merged Kinetics-TPS submission.

A per-video JSON holds :meth:`ParseResult.summary` (action, states and their sources, top-5 scores per
head, per-stage timings, video facts), ``video_path``, and ``frames`` in the submission layout with two
extra keys per human: ``score``, ``keypoints`` ``[[x, y, score], ...]`` and ``track_id`` (the person's
identity across the video's frames; the official evaluator ignores extra keys).
:func:`write_submission_from_videos` merges them into ``pred_vid_result.json`` + ``pred_part_result.json``
(without keypoints), in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from partparse.data.tps_format import submission_from_json, submission_to_json, write_submission
from partparse.io import InputError, read_json, write_json
from partparse.pipeline.parser import ParseResult
from partparse.structures import VideoPrediction


def parse_result_to_json(result: ParseResult, video_path: str | Path) -> dict:
    video = result.prediction
    _, parts = submission_to_json([video])
    frames = parts[video.video_id]
    for frame, humans in zip(video.frames, (f["humans"] for f in frames.values()), strict=True):
        for person, human in zip(frame.persons, humans, strict=True):
            if person.keypoints is not None:
                human["keypoints"] = [list(k) for k in person.keypoints]
            if person.track_id is not None:
                human["track_id"] = person.track_id
    return {**result.summary(), "video_path": str(video_path), "frames": frames}


def write_parse_result(result: ParseResult, video_path: str | Path, folder: str | Path) -> Path:
    """Write ``folder/<video_id>.json`` atomically; returns its path."""
    return write_json(Path(folder) / f"{result.prediction.video_id}.json", parse_result_to_json(result, video_path))


def read_parsed_video(path: str | Path) -> tuple[VideoPrediction, dict]:
    """``(prediction with keypoints, the rest of the JSON)`` of a per-video file."""
    data = read_json(path)
    if not isinstance(data, dict) or not {"video_id", "action", "frames"} <= set(data):
        raise InputError(f"{path}: not a partparse per-video parse file (needs video_id, action, frames)")
    vid = data["video_id"]
    prediction = submission_from_json({vid: data["action"]}, {vid: data["frames"]})[vid]
    return prediction, {k: v for k, v in data.items() if k != "frames"}


def write_submission_from_videos(files: Iterable[str | Path], folder: str | Path) -> list[VideoPrediction]:
    """Merge per-video files into a submission folder; returns the predictions (keypoints kept)."""
    predictions = [read_parsed_video(f)[0] for f in files]
    write_submission(predictions, folder)
    return predictions
