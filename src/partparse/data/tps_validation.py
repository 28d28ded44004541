"""Checks of Kinetics-TPS ground-truth and submission dicts, reporting every problem with its location.

One set of rules serves both ``partparse validate`` (all problems listed) and the loaders in
:mod:`partparse.data.tps_format` (which refuse input with errors, naming the first one).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from partparse.data.vocabulary import Vocabulary
from partparse.structures import frame_index

#: Official limits of a submission (the evaluator asserts them).
MAX_HUMANS = 10             # humans per frame
MAX_PROPOSALS = 5           # state proposals per part


@dataclass(frozen=True)
class Problem:
    """One problem in one file. ``severity`` is ``"error"`` (the file is unusable or the official
    evaluator would fail or mis-score) or ``"warning"`` (legal but suspicious)."""

    file: str
    message: str
    severity: str = "error"
    video: str | None = None
    frame: str | None = None
    person: int | None = None
    part: str | None = None

    @property
    def location(self) -> str:
        bits = []
        if self.video is not None:
            bits.append(f"video {_printable(self.video)}")
        if self.frame is not None:
            bits.append(f"frame {_printable(self.frame)}")
        if self.person is not None:
            bits.append(f"person {self.person}")
        if self.part is not None:
            bits.append(f"part {_printable(self.part)}")
        return " / ".join(bits)

    def __str__(self) -> str:
        where = f" [{self.location}]" if self.location else ""
        return f"{self.file}{where}: {self.severity}: {self.message}"


def _printable(name: str) -> str:
    """A name as it reads, or its repr when it holds line breaks or other control characters (a
    problem is one line)."""
    return name if name.isprintable() else repr(name)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _in_float_range(v: int | float) -> bool:
    """JSON integers beyond the float range (``10**400``) cannot become coordinates (``float()`` fails)."""
    try:
        float(v)
    except OverflowError:
        return False
    return True


#: Longest video id in UTF-8 bytes: file names built from it (``<id>_00001_p9.jpg``) must stay under the
#: 255 bytes most file systems allow.
MAX_VIDEO_ID_BYTES = 200


def video_id_problem(video_id: Any) -> str | None:
    """Why ``video_id`` is not a plain file name, or None if it is.

    Video ids become file names (COCO exports, per-video parse files), so an id must not reach outside
    the folder it is written to: no path separator, not ``.`` or ``..``, no NUL or control character,
    not empty, at most :data:`MAX_VIDEO_ID_BYTES` bytes. Every reader of the Kinetics-TPS files refuses
    such ids through this check (and ``partparse validate`` reports them).
    """
    if not isinstance(video_id, str) or not video_id:
        return f"video id must be a non-empty string, got {_short(video_id)}"
    if video_id in (".", "..") or "/" in video_id or "\\" in video_id:
        return f"video id is not a plain file name (a path): {_short(video_id)}"
    if any(ord(c) < 32 or ord(c) == 127 for c in video_id):
        return f"video id has a control character: {_short(video_id)}"
    if len(video_id.encode("utf-8", "surrogatepass")) > MAX_VIDEO_ID_BYTES:
        return f"video id is longer than {MAX_VIDEO_ID_BYTES} bytes: {_short(video_id)}"
    return None


def box_problem(box: Any) -> str | None:
    """Why ``box`` is not a valid ``[x1, y1, x2, y2]`` pixel box, or None if it is."""
    if not isinstance(box, list) or len(box) != 4:
        return f"box must be a list of 4 numbers [x1, y1, x2, y2], got {_short(box)}"
    if not all(_is_number(v) for v in box):
        return f"box has a non-numeric coordinate: {_short(box)}"
    if not all(_in_float_range(v) for v in box):
        return f"box has a coordinate beyond the float range: {_short(box)}"
    if not all(math.isfinite(v) for v in box):
        return f"box has NaN or infinite coordinates: {_short(box)}"
    if min(box) < 0:
        return f"box has negative coordinates: {_short(box)}"
    if box[2] < box[0] or box[3] < box[1]:
        return f"box is inverted (x2 < x1 or y2 < y1): {_short(box)}"
    return None


def _short(v: Any, limit: int = 60) -> str:
    """``repr(v)`` cut to ``limit`` characters; a value too deep or too long to print is described."""
    try:
        text = repr(v)
    except RecursionError:
        return f"a {type(v).__name__} nested too deeply to show"
    except ValueError:                                 # int too long for repr (Python >= 3.11's limit)
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Checker:
    def __init__(self, file: str, vocab: Vocabulary | None, unknown: str = "error"):
        self.file = file
        self.vocab = vocab
        self.unknown = unknown  # severity of names outside the vocabulary
        self.problems: list[Problem] = []

    def add(self, message: str, severity: str = "error", **where: Any) -> None:
        self.problems.append(Problem(self.file, message, severity, **where))

    def video_results(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.add(f"expected an object {{video_id: action_class}}, got {type(data).__name__}")
            return
        for vid, action in data.items():
            if (why := video_id_problem(vid)) is not None:
                self.add(why, video=_short(vid))
            if not isinstance(action, str):
                self.add(f"action must be a string, got {_short(action)}", video=vid)
            elif self.vocab is not None and self.vocab.actions and action not in self.vocab.actions:
                self.add(f"unknown action class {action!r}", self.unknown, video=vid)

    def part_results(self, data: Any, submission: bool) -> None:
        if not isinstance(data, dict):
            self.add(f"expected an object {{video_id: {{frame: {{'humans': [...]}}}}}}, got {type(data).__name__}")
            return
        for vid, frames in data.items():
            if (why := video_id_problem(vid)) is not None:
                self.add(why, video=_short(vid))
            if not isinstance(frames, dict):
                self.add(f"expected an object of frames, got {type(frames).__name__}", video=vid)
                continue
            for key, frame in frames.items():
                self._frame(vid, key, frame, submission)

    def _frame(self, vid: str, key: str, frame: Any, submission: bool) -> None:
        try:
            frame_index(key)
        except ValueError:
            self.add(f"frame key is not of the form img_NNNNN.json: {key!r}", "warning", video=vid)
        if not isinstance(frame, dict) or not isinstance(frame.get("humans"), list):
            self.add("frame must be an object with a 'humans' list", video=vid, frame=key)
            return
        humans = frame["humans"]
        if submission and len(humans) > MAX_HUMANS:
            self.add(f"{len(humans)} humans; the official evaluator allows at most {MAX_HUMANS}",
                     video=vid, frame=key)
        for i, human in enumerate(humans):
            self._human(vid, key, i, human, submission)

    def _human(self, vid: str, key: str, i: int, human: Any, submission: bool) -> None:
        where = dict(video=vid, frame=key, person=i)
        if not isinstance(human, dict):
            self.add(f"a human must be an object, got {type(human).__name__}", **where)
            return
        if "box" not in human:
            self.add("missing key 'box'", **where)
        elif (why := box_problem(human["box"])) is not None:
            self.add(why, **where)
        parts = human.get("parts")
        if not isinstance(parts, dict):
            self.add("missing key 'parts' (an object part_name -> {box, verb})" if parts is None
                     else f"'parts' must be an object, got {type(parts).__name__}", **where)
            return
        for name, part in parts.items():
            pw = dict(where, part=name)
            if self.vocab is not None and name not in self.vocab.parts:
                self.add(f"unknown part name {name!r}", self.unknown, **pw)
            if not isinstance(part, dict):
                self.add(f"a part must be an object with 'box' and 'verb', got {type(part).__name__}", **pw)
            elif submission:
                self._proposals(part, pw)
            else:
                self._gt_part(part, pw)

    def _gt_part(self, part: dict, where: dict) -> None:
        for k in ("box", "verb"):
            if k not in part:
                self.add(f"missing key {k!r}", **where)
        if "box" in part and (why := box_problem(part["box"])) is not None:
            self.add(why, **where)
        if "verb" in part:
            self._state(part["verb"], where)

    def _proposals(self, part: dict, where: dict) -> None:
        boxes, verbs = part.get("box"), part.get("verb")
        if not isinstance(boxes, list) or not isinstance(verbs, list):
            self.add("a submission part needs 'box' and 'verb' lists (up to 5 proposals), got "
                     f"box={_short(boxes, 30)} verb={_short(verbs, 30)}", **where)
            return
        if boxes and not isinstance(boxes[0], list):
            self.add(f"'box' must be a list of boxes [[x1, y1, x2, y2], ...], got {_short(boxes)}", **where)
            return
        if len(boxes) != len(verbs):
            self.add(f"{len(boxes)} boxes but {len(verbs)} verbs; proposals are parallel lists", **where)
        scores = part.get("score")
        if scores and not (isinstance(scores, list) and len(scores) == len(verbs)
                           and all(v is None or _is_number(v) for v in scores)):
            # the loader pairs scores with proposals: a shorter list would drop proposals silently
            self.add(f"'score' must be one number per proposal ({len(verbs)}), got {_short(scores, 30)}", **where)
        if len(verbs) > MAX_PROPOSALS:
            self.add(f"{len(verbs)} proposals; the official evaluator allows at most {MAX_PROPOSALS}",
                     **where)
        if not verbs:
            self.add("no proposals: the part scores 0 (leave the part out instead)", "warning", **where)
        for j, box in enumerate(boxes):
            if (why := box_problem(box)) is not None:
                self.add(f"proposal {j}: {why}", **where)
        for verb in verbs:
            self._state(verb, where)

    def _state(self, verb: Any, where: dict) -> None:
        if not isinstance(verb, str):
            self.add(f"state ('verb') must be a string, got {_short(verb)}", **where)
        elif self.vocab is not None and not self.vocab.has_state(verb):
            self.add(f"unknown part state {verb!r}", self.unknown, **where)


def check_video_results(data: Any, file: str, vocab: Vocabulary | None = None,
                        unknown: str = "error") -> list[Problem]:
    """Problems of a ``{gt,pred}_vid_result.json`` dict; names outside ``vocab`` get severity ``unknown``."""
    c = _Checker(file, vocab, unknown)
    c.video_results(data)
    return c.problems


def check_part_results(data: Any, file: str, submission: bool, vocab: Vocabulary | None = None,
                       unknown: str = "error") -> list[Problem]:
    """Problems of a ``{gt,pred}_part_result.json`` dict (``submission`` selects the proposal layout)."""
    c = _Checker(file, vocab, unknown)
    c.part_results(data, submission)
    return c.problems


def check_same_videos(a: Mapping, a_file: str, b: Mapping, b_file: str, missing_is_error: bool = True,
                      extra_is_error: bool = False) -> list[Problem]:
    """Videos of ``a`` missing from ``b`` (and videos of ``b`` that ``a`` does not have)."""
    problems = [Problem(b_file, f"video missing (it is in {a_file})", "error" if missing_is_error else "warning",
                        video=v) for v in a if v not in b]
    problems += [Problem(b_file, f"video not in {a_file}", "error" if extra_is_error else "warning", video=v)
                 for v in b if v not in a]
    return problems


def errors(problems: list[Problem]) -> Iterator[Problem]:
    return (p for p in problems if p.severity == "error")
