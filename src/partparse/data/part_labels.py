"""Video-level part-state labels: the report's transform of part-state parsing into video classification.

For one video and one coarse part (head, hand, arm, hip, leg, foot) the label is the most frequent
frame-level state of that coarse part over all annotated frames and persons (``left_hand`` and
``right_hand`` both count for ``hand``); the classifier's class is ``<action>_<Part>_<state>``.

Tie rule (documented, order-independent): among the states with the highest count, the one whose name
sorts first (Python string order). Shuffling frames or persons therefore never changes a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from partparse.data.vocabulary import coarse_part
from partparse.io import InputError, read_json


def majority_state(states: Iterable[str] | Counter) -> str | None:
    """Most frequent state; ties go to the alphabetically first name; ``None`` when there is none."""
    counts = states if isinstance(states, Counter) else Counter(states)
    if not counts:
        return None
    best = max(counts.values())
    return min(s for s, c in counts.items() if c == best)


def coarse_state_counts(frames: Mapping[str, Mapping]) -> dict[str, Counter]:
    """Per coarse part, the count of each GT state over a video's frames (``gt_part_result[video]``)."""
    pairs = Counter()  # (part name, state) -> count, counted in C; then folded into coarse parts
    for frame in frames.values():
        for human in frame.get("humans", []):
            pairs.update([(name, part["verb"]) for name, part in human.get("parts", {}).items()])
    counts: dict[str, Counter] = {}
    for (name, state), n in pairs.items():
        counts.setdefault(coarse_part(name), Counter())[state] += n
    return counts


def video_part_states(frames: Mapping[str, Mapping]) -> dict[str, str]:
    """``{coarse_part: majority state}`` of one video's ground-truth frames (coarse parts seen only)."""
    return {c: majority_state(cnt) for c, cnt in coarse_state_counts(frames).items()}


def part_state_label(action: str, coarse: str, state: str) -> str:
    """The report's video-level class name, e.g. ``('lunge', 'leg', 'bend') -> 'lunge_Leg_bend'``."""
    return f"{action}_{coarse.capitalize()}_{state}"


class LabelSpace:
    """Class names of one classifier (the action, or one coarse part's ``<action>_<Part>_<state>``).

    Built from the training split only, sorted, so a label index means the same thing in every run.
    """

    def __init__(self, names: Iterable[str]):
        self.names: tuple[str, ...] = tuple(sorted(set(names)))
        self._index = {n: i for i, n in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"label {name!r} is not in the training label space ({len(self.names)} classes)") from None

    def get(self, name: str, default: int = -1) -> int:
        return self._index.get(name, default)

    def to_list(self) -> list[str]:
        return list(self.names)


def state_of_label(label: str) -> str:
    """The state of a ``<action>_<Part>_<state>`` label (states may contain ``_``; parts never do)."""
    for coarse in ("Head", "Hand", "Arm", "Hip", "Leg", "Foot"):
        marker = f"_{coarse}_"
        if marker in label:
            return label.split(marker, 1)[1]
    raise ValueError(f"not a part-state label (<action>_<Part>_<state>): {label!r}")


def video_labels(action: str, frames: Mapping[str, Mapping], coarse_parts: Iterable[str]) -> dict[str, str]:
    """``{"action": action, coarse: "<action>_<Part>_<state>"}`` for one GT video.

    A coarse part never annotated in the video gets ``<action>_<Part>_none``: the part is not visible,
    so "no movement" is the least wrong target (documented choice; such videos are rare in Kinetics-TPS).
    """
    states = video_part_states(frames)
    out = {"action": action}
    for c in coarse_parts:
        out[c] = part_state_label(action, c, states.get(c) or "none")
    return out


def build_label_spaces(videos: Mapping[str, Mapping[str, str]], coarse_parts: Iterable[str]) -> dict[str, LabelSpace]:
    """Label spaces of the action and of each coarse part from the training videos' :func:`video_labels`."""
    heads = ["action", *coarse_parts]
    return {h: LabelSpace(v[h] for v in videos.values()) for h in heads}


def read_label_spaces(path: str | Path) -> dict[str, list[str]]:
    """``label_spaces.json`` of a trained video run: ``{head: [class name, ...]}``, each head a non-empty
    list of distinct strings. Anything else raises :class:`InputError` naming the file and the head."""
    spaces = read_json(path)
    if not isinstance(spaces, dict) or not spaces:
        raise InputError(f"{path}: expected an object {{head: [class names]}}, got {type(spaces).__name__}")
    for head, names in spaces.items():
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise InputError(f"{path} [head {head}]: expected a non-empty list of class names (strings)")
        if len(set(names)) != len(names):
            raise InputError(f"{path} [head {head}]: class names repeat")
    return spaces
