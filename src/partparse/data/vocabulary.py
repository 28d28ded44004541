"""Label vocabularies: action classes, the 10 body parts, their 6 coarse groups and part states.

Vocabularies come from the data (``list/body_part.txt``, ``list/part_stat.txt`` and the action classes
of the annotation tree) when a dataset copy is at hand; the Kinetics-TPS names are the built-in default.
The full list of 74 Kinetics-TPS part states ships only with the dataset, so the built-in vocabulary
leaves states open (``states=None``: any state name is accepted).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from partparse.io import InputError, check_regular_file

#: The 24 Kinetics-TPS action classes in the label order of the report's authors (alphabetical).
KINETICS_TPS_ACTIONS: tuple[str, ...] = (
    "belly_dancing", "capoeira", "clean_and_jerk", "country_line_dancing", "crawling_baby",
    "deadlifting", "front_raises", "hammer_throw", "hitting_baseball", "hopscotch", "hurling_(sport)",
    "juggling_balls", "lunge", "pull_ups", "punching_bag", "push_up", "riding_mechanical_bull",
    "salsa_dancing", "skateboarding", "skipping_rope", "snatch_weight_lifting", "surfing_crowd",
    "throwing_discus", "tobogganing",
)

#: The 10 annotated body parts, in Kinetics-TPS order.
BODY_PARTS: tuple[str, ...] = (
    "head", "hip", "left_arm", "right_arm", "left_hand", "right_hand",
    "left_leg", "right_leg", "left_foot", "right_foot",
)

#: The report's 6 coarse parts (one video-level part-state classifier each).
COARSE_PARTS: tuple[str, ...] = ("head", "hand", "arm", "hip", "leg", "foot")

#: State meaning "no movement"; always part of a vocabulary.
NO_STATE = "none"


def coarse_part(part: str) -> str:
    """Map a body part name to its coarse part: ``left_hand`` -> ``hand``, ``head`` -> ``head``.

    Works for any ``left_``/``right_`` prefixed name, so vocabularies read from data map too.
    """
    for side in ("left_", "right_"):
        if part.startswith(side):
            return part[len(side):]
    return part


@dataclass(frozen=True)
class Vocabulary:
    """Names of actions, body parts and part states. ``states=None`` means open (anything goes)."""

    actions: tuple[str, ...]
    parts: tuple[str, ...] = BODY_PARTS
    states: tuple[str, ...] | None = None

    @classmethod
    def kinetics_tps(cls) -> Vocabulary:
        return cls(actions=KINETICS_TPS_ACTIONS, parts=BODY_PARTS, states=None)

    @property
    def coarse_parts(self) -> tuple[str, ...]:
        """Coarse parts of this vocabulary's body parts, in first-seen order."""
        return tuple(dict.fromkeys(coarse_part(p) for p in self.parts))

    def coarse_part(self, part: str) -> str:
        return coarse_part(part)

    def action_index(self, action: str) -> int:
        try:
            return self.actions.index(action)
        except ValueError:
            raise InputError(f"unknown action class {action!r} (vocabulary has {len(self.actions)})") from None

    def has_state(self, state: str) -> bool:
        return self.states is None or state in self.states

    @classmethod
    def from_list_dir(cls, list_dir: str | Path, actions: Iterable[str] | None = None) -> Vocabulary:
        """Read ``body_part.txt`` and ``part_stat.txt`` from a Kinetics-TPS ``list/`` folder.

        Actions: ``actions`` if given, else the folder's ``action.txt`` where it has one (SynTPS writes
        it; Kinetics-TPS does not), else the Kinetics-TPS classes.
        """
        list_dir = Path(list_dir)
        if not list_dir.is_dir():
            raise InputError(f"{list_dir}: vocabulary folder not found (a list/ folder with body_part.txt)")
        parts = read_name_list(list_dir / "body_part.txt")
        states_file, actions_file = list_dir / "part_stat.txt", list_dir / "action.txt"
        states = read_name_list(states_file) if os.path.lexists(states_file) else None
        if actions is None:
            actions = read_name_list(actions_file) if os.path.lexists(actions_file) else KINETICS_TPS_ACTIONS
        return cls(actions=tuple(actions), parts=tuple(parts), states=tuple(states) if states is not None else None)

    @classmethod
    def from_annotations(cls, video_actions: Mapping[str, str], part_results: Mapping) -> Vocabulary:
        """Collect the vocabulary present in ground-truth dicts (``gt_vid_result``/``gt_part_result``).

        Actions are sorted (the report's alphabetical label order); parts keep the Kinetics-TPS order
        where they are standard names; states are sorted with ``none`` first.
        """
        parts: set[str] = set()
        states: set[str] = set()
        for frames in part_results.values():
            for frame in frames.values():
                for human in frame.get("humans", []):
                    for name, part in human.get("parts", {}).items():
                        parts.add(name)
                        verb = part.get("verb")
                        for v in verb if isinstance(verb, list) else [verb]:
                            if isinstance(v, str):
                                states.add(v)
        ordered_parts = [p for p in BODY_PARTS if p in parts] + sorted(parts - set(BODY_PARTS))
        ordered_states = ([NO_STATE] if NO_STATE in states else []) + sorted(states - {NO_STATE})
        return cls(actions=tuple(sorted(set(video_actions.values()))), parts=tuple(ordered_parts),
                   states=tuple(ordered_states))

    def to_dict(self) -> dict:
        return {"actions": list(self.actions), "parts": list(self.parts),
                "states": None if self.states is None else list(self.states)}

    @classmethod
    def from_dict(cls, d: Mapping) -> Vocabulary:
        states = d.get("states")
        return cls(actions=tuple(d["actions"]), parts=tuple(d.get("parts", BODY_PARTS)),
                   states=None if states is None else tuple(states))


def read_name_list(path: str | Path) -> list[str]:
    """Read a name list: one name a line; ``"3 left_hand"`` or ``"3,left_hand"`` lines keep the name.

    Blank lines and ``#`` comments are skipped. A missing file, anything but a regular file, or text
    that is not UTF-8 raises :class:`InputError` naming the file (and the line).
    """
    path = check_regular_file(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    names: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.replace(",", " ").split()
        if len(tokens) > 1 and tokens[0].isdigit():
            tokens = tokens[1:]
        names.append(" ".join(tokens))
    if not names:
        raise InputError(f"{path}: no names in the list")
    return names
