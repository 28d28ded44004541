"""Part-state timelines of one video: per person track and for the ground truth, in the report's colours.

A timeline is a grid (rows: body parts, columns: keyframes) coloured with the state of the part, blank
where the part is absent. The prediction gets one panel per person track (:func:`person_tracks`), the
ground truth one panel with, per frame and part, the majority state over its humans. Every panel uses
the same ``{state: colour}`` map (:mod:`partparse.viz.state_colours`), the report's for all its videos.

Plots use matplotlib (object API, Agg canvas: no global pyplot state); :func:`timeline_png` returns
``None`` without it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np

from partparse.data.part_labels import majority_state
from partparse.data.vocabulary import BODY_PARTS
from partparse.structures import PersonPrediction, VideoPrediction, frame_index
from partparse.viz.state_colours import ABSENT_COLOUR

#: Person tracks drawn per video (the longest ones); the rest are counted in the plot's title.
MAX_TRACKS = 4

Track = tuple[str, list[PersonPrediction | None]]


def person_tracks(prediction: VideoPrediction) -> list[Track]:
    """``[(label, person or None per keyframe), ...]``, the longest tracks first.

    Persons with a ``track_id`` (set by a tracker) are grouped by it: ``"track 3"``. Without track ids
    a "track" is the person's rank in its frame (``"person #1"``: the best-scoring person of each
    keyframe), which is what the submission's order means.
    """
    n = len(prediction.frames)
    rows: dict[object, list[PersonPrediction | None]] = {}
    for t, frame in enumerate(prediction.frames):
        for rank, person in enumerate(frame.persons):
            track_id = getattr(person, "track_id", None)
            key = ("track", track_id) if track_id is not None else ("person", rank)
            rows.setdefault(key, [None] * n)[t] = person
    labels = {k: f"track {k[1]}" if k[0] == "track" else f"person #{k[1] + 1}" for k in rows}
    order = sorted(rows, key=lambda k: (-sum(p is not None for p in rows[k]), k[0], str(k[1]).zfill(8)))
    return [(labels[k], rows[k]) for k in order]


def track_state_grid(track: Sequence[PersonPrediction | None], parts: Sequence[str]) -> list[list[str | None]]:
    """``grid[part][keyframe]``: the state of the part's best proposal on the track's person, or None."""
    return [[p.parts[part][0].state if p is not None and p.parts.get(part) else None for p in track] for part in parts]


def predicted_state_grid(prediction: VideoPrediction, parts: Sequence[str]) -> list[list[str | None]]:
    """``grid[part][keyframe]``: the state of the part on the best-scoring person that has it, or None."""
    grid: list[list[str | None]] = [[] for _ in parts]
    for frame in prediction.frames:
        persons = sorted(frame.persons, key=lambda p: -(p.score or 0.0))
        for row, part in zip(grid, parts, strict=True):
            row.append(next((p.parts[part][0].state for p in persons if p.parts.get(part)), None))
    return grid


def gt_state_grid(gt_frames: Mapping[str, Mapping], keys: Sequence[str],
                  parts: Sequence[str]) -> list[list[str | None]]:
    """``grid[part][keyframe]``: the majority GT state of the part over the frame's humans, or None."""
    grid: list[list[str | None]] = [[] for _ in parts]
    for key in keys:
        humans = gt_frames.get(key, {}).get("humans", [])
        for row, part in zip(grid, parts, strict=True):
            row.append(majority_state([h["parts"][part]["verb"] for h in humans if part in h.get("parts", {})]))
    return grid


def timeline_parts(prediction: VideoPrediction, gt_frames: Mapping[str, Mapping] | None) -> list[str]:
    """The body parts any person or GT human has, Kinetics-TPS order first."""
    seen = {name for f in prediction.frames for p in f.persons for name in p.parts}
    seen |= {name for f in (gt_frames or {}).values() for h in f.get("humans", []) for name in h.get("parts", {})}
    return [p for p in BODY_PARTS if p in seen] + sorted(seen - set(BODY_PARTS)) or list(BODY_PARTS)


def timeline_panels(prediction: VideoPrediction, gt_frames: Mapping[str, Mapping] | None, parts: Sequence[str],
                    max_tracks: int = MAX_TRACKS) -> list[tuple[str, list[list[str | None]]]]:
    """``[(title, grid), ...]``: the ``max_tracks`` longest person tracks, then the ground truth."""
    tracks = person_tracks(prediction)
    panels = [(f"predicted, {label} ({sum(p is not None for p in persons)}/{len(persons)} keyframes)",
               track_state_grid(persons, parts)) for label, persons in tracks[:max_tracks]]
    if len(tracks) > max_tracks:
        panels[-1] = (panels[-1][0] + f"; {len(tracks) - max_tracks} shorter tracks not shown", panels[-1][1])
    if not panels:
        panels.append(("predicted (no persons)", [[None] * len(prediction.frames) for _ in parts]))
    if gt_frames is not None:
        keys = [f.key for f in prediction.frames]
        panels.append(("ground truth (majority over humans)", gt_state_grid(gt_frames, keys, parts)))
    return panels


def timeline_png(prediction: VideoPrediction, palette: Mapping[str, str],
                 gt_frames: Mapping[str, Mapping] | None = None, max_tracks: int = MAX_TRACKS) -> str | None:
    """PNG data URI of the video's timeline panels coloured by ``palette`` (states it lacks: black);
    ``None`` without matplotlib. The legend is the report's (one for the page), not drawn here."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
    except ImportError:
        return None
    keys = [f.key for f in prediction.frames]
    parts = timeline_parts(prediction, gt_frames)
    panels = timeline_panels(prediction, gt_frames, parts, max_tracks)
    states = list(palette)
    code = {s: i + 1 for i, s in enumerate(states)}
    cmap = ListedColormap([ABSENT_COLOUR, *palette.values(), "#000000"])
    unknown = len(states) + 1
    fig = Figure(figsize=(min(12.0, 3.0 + 0.12 * max(len(keys), 1)), 0.4 + (0.35 + 0.13 * len(parts)) * len(panels)),
                 dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (title, grid) in zip(axes, panels, strict=True):
        cells = np.array([[0 if s is None else code.get(s, unknown) for s in row] for row in grid])
        cells = cells.reshape(len(parts), -1)
        ax.imshow(cells, cmap=cmap, vmin=0, vmax=unknown, aspect="auto", interpolation="nearest")
        ax.set_yticks(range(len(parts)), parts, fontsize=7)
        ticks = list(range(0, len(keys), max(1, len(keys) // 10)))
        ax.set_xticks(ticks, [str(frame_index(keys[t])) for t in ticks], fontsize=7)
        ax.set_title(title, fontsize=8, loc="left")
    axes[-1].set_xlabel("frame", fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
