"""Video-level part-state labels: the report's transform of part-state parsing into video classification.

For one video and one coarse part (head, hand, arm, hip, leg, foot) the label is the most frequent
frame-level state of that coarse part over all annotated frames and persons (``left_hand`` and
``right_hand`` both count for ``hand``); the classifier's class is ``<action>_<Part>_<state>``.

Tie rule (documented, order-independent): among the states with the highest count, the one whose name
sorts first (Python string order). Shuffling frames or persons therefore never changes a label.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping

from partparse.data.vocabulary import coarse_part


def majority_state(states: Iterable[str] | Counter) -> str | None:
    """Most frequent state; ties go to the alphabetically first name; ``None`` when there is none."""
    counts = states if isinstance(states, Counter) else Counter(states)
    if not counts:
        return None
    best = max(counts.values())
    return min(s for s, c in counts.items() if c == best)


def coarse_state_counts(frames: Mapping[str, Mapping]) -> dict[str, Counter]:
    """Per coarse part, the count of each GT state over a video's frames (``gt_part_result[video]``)."""
    counts: dict[str, Counter] = {}
    for frame in frames.values():
        for human in frame.get("humans", []):
            for name, part in human.get("parts", {}).items():
                counts.setdefault(coarse_part(name), Counter())[part["verb"]] += 1
    return counts


def video_part_states(frames: Mapping[str, Mapping]) -> dict[str, str]:
    """``{coarse_part: majority state}`` of one video's ground-truth frames (coarse parts seen only)."""
    return {c: majority_state(cnt) for c, cnt in coarse_state_counts(frames).items()}


def part_state_label(action: str, coarse: str, state: str) -> str:
    """The report's video-level class name, e.g. ``('lunge', 'leg', 'bend') -> 'lunge_Leg_bend'``."""
    return f"{action}_{coarse.capitalize()}_{state}"
