"""One self-contained HTML page about parsed videos: thumbnails, part-state timelines, scores.

Per video: a thumbnail (the middle keyframe with the overlay drawn), the action with its top-5 scores,
the state of each coarse part and where it came from, and a timeline plot (rows: body parts, columns:
keyframes; colour: the state of the part on the best-scoring person that has it, blank where no person
has it). With a ground-truth folder the page adds the Kinetics-TPS score of the parsed videos
(:class:`~partparse.evaluation.tps_metric.TPSEvaluator`; the GT is restricted to the videos parsed), each
video's PSC, and a ground-truth timeline (per frame and part, the majority state over its humans).

Images are inline PNGs (base64), so the page is one file. Plots use matplotlib (object API, Agg canvas:
no global pyplot state); a missing matplotlib leaves the timelines out with a note.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from partparse.data.part_labels import majority_state
from partparse.data.tps_format import read_result_files, submission_to_json
from partparse.data.vocabulary import BODY_PARTS
from partparse.io import atomic_write
from partparse.structures import VideoPrediction, frame_index
from partparse.viz.overlay import draw_frame
from partparse.viz.report_sections import ReportSection


@dataclass
class ReportVideo:
    """One parsed video: its prediction (with keypoints) and its per-video facts (see
    :mod:`partparse.pipeline.parse_output`: ``action_score``, ``part_states``, ``state_sources``, ``top5``,
    ``timings``, ``video_path``, ...)."""

    prediction: VideoPrediction
    facts: Mapping


def _png(image: np.ndarray | Image.Image) -> str:
    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnail(video: ReportVideo, width: int = 320) -> str | None:
    """PNG data URI of the middle keyframe with its overlay, ``width`` pixels wide; ``None`` when the
    video file cannot be read."""
    from partparse.data.video_reader import VideoReader
    from partparse.io import InputError

    frames = video.prediction.frames
    if not frames or not video.facts.get("video_path"):
        return None
    frame = frames[len(frames) // 2]
    try:
        with VideoReader(video.facts["video_path"]) as reader:
            image = reader.read_frames([frame_index(frame.key)])[0]
    except (InputError, IndexError):
        return None
    zoom = width / image.shape[1]
    resized = Image.fromarray(image).resize((width, max(1, round(image.shape[0] * zoom))), Image.Resampling.BILINEAR)
    return _png(draw_frame(np.asarray(resized), frame, video.prediction.action, video.facts.get("action_score"),
                           zoom=zoom))


def predicted_state_grid(prediction: VideoPrediction, parts: Sequence[str]) -> list[list[str | None]]:
    """``grid[part][keyframe]``: the state of the part on the best-scoring person that has it, or None."""
    grid: list[list[str | None]] = [[] for _ in parts]
    for frame in prediction.frames:
        persons = sorted(frame.persons, key=lambda p: -(p.score or 0.0))
        for row, part in zip(grid, parts):
            row.append(next((p.parts[part][0].state for p in persons if p.parts.get(part)), None))
    return grid


def gt_state_grid(gt_frames: Mapping[str, Mapping], keys: Sequence[str], parts: Sequence[str]) -> list[list[str | None]]:
    """``grid[part][keyframe]``: the majority GT state of the part over the frame's humans, or None."""
    grid: list[list[str | None]] = [[] for _ in parts]
    for key in keys:
        humans = gt_frames.get(key, {}).get("humans", [])
        for row, part in zip(grid, parts):
            row.append(majority_state([h["parts"][part]["verb"] for h in humans if part in h.get("parts", {})]))
    return grid


def timeline_png(prediction: VideoPrediction, gt_frames: Mapping[str, Mapping] | None = None) -> str | None:
    """PNG data URI of the part-state timeline(s); ``None`` without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import ListedColormap
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        return None
    keys = [f.key for f in prediction.frames]
    seen = {name for f in prediction.frames for p in f.persons for name in p.parts}
    seen |= {name for f in (gt_frames or {}).values() for h in f.get("humans", []) for name in h.get("parts", {})}
    parts = [p for p in BODY_PARTS if p in seen] + sorted(seen - set(BODY_PARTS)) or list(BODY_PARTS)
    panels = [("predicted", predicted_state_grid(prediction, parts))]
    if gt_frames is not None:
        panels.append(("ground truth", gt_state_grid(gt_frames, keys, parts)))
    states = sorted({s for _, g in panels for row in g for s in row if s is not None})
    code = {s: i + 1 for i, s in enumerate(states)}
    palette = [(0.95, 0.95, 0.95)] + [_state_colour(i) for i in range(len(states))]
    fig = Figure(figsize=(min(12.0, 3.0 + 0.12 * max(len(keys), 1)), 0.6 + 0.22 * len(parts) * len(panels) + 0.6),
                 dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (title, grid) in zip(axes, panels):
        cells = np.array([[code.get(s, 0) if s is not None else 0 for s in row] for row in grid]).reshape(len(parts), -1)
        ax.imshow(cells, cmap=ListedColormap(palette), vmin=0, vmax=len(palette) - 1, aspect="auto",
                  interpolation="nearest")
        ax.set_yticks(range(len(parts)), parts, fontsize=7)
        ticks = list(range(0, len(keys), max(1, len(keys) // 10)))
        ax.set_xticks(ticks, [str(frame_index(keys[t])) for t in ticks], fontsize=7)
        ax.set_title(title, fontsize=8, loc="left")
    axes[-1].set_xlabel("frame", fontsize=7)
    if states:
        fig.legend(handles=[Patch(color=palette[code[s]], label=s) for s in states], loc="outside right upper",
                   fontsize=7, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _state_colour(i: int) -> tuple[float, float, float]:
    """Distinct colours for up to 20 states (tab20's), then golden-angle hues."""
    from matplotlib import colormaps

    if i < 20:
        return tuple(colormaps["tab20"](i)[:3])
    import colorsys

    return colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.6, 0.85)


def score_videos(predictions: Sequence[VideoPrediction], gt_dir: str | Path):
    """``(TPSResult, gt_vid, gt_part)`` of the predictions against the GT videos among them (the result is
    ``None`` when the GT holds none of them; ``gt_vid`` is restricted to them)."""
    from partparse.evaluation.tps_metric import TPSEvaluator

    gt_vid, gt_part = read_result_files(gt_dir, submission=False)
    ids = {p.video_id for p in predictions}
    gt_vid = {v: a for v, a in gt_vid.items() if v in ids}
    if not gt_vid:
        return None, gt_vid, gt_part
    pred_vid, pred_part = submission_to_json(predictions)
    return TPSEvaluator(gt_vid, gt_part, pred_vid, pred_part).evaluate(), gt_vid, gt_part


_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}th{background:#f2f2f2}
.video{border-top:2px solid #444;margin-top:1.5em;padding-top:.5em}.row{display:flex;gap:1.5em;flex-wrap:wrap}
.err{color:#b00}.ok{color:#070}"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary_html(videos: Sequence[ReportVideo], failures: Sequence[tuple[str, str]], result) -> str:
    stages: dict[str, float] = {}
    keyframes = sum(len(v.prediction.frames) for v in videos)
    for v in videos:
        for k, s in v.facts.get("timings", {}).items():
            stages[k] = stages.get(k, 0.0) + float(s)
    total = stages.pop("total", 0.0)
    out = [f"<p>{len(videos)} videos parsed, {len(failures)} failed; {keyframes} keyframes in {total:.1f} s "
           f"({keyframes / total if total else 0:.2f} keyframes/s).</p>"]
    if stages:
        out.append(_table(["stage", "seconds", "share"],
                          [[k, f"{s:.2f}", f"{100 * s / total if total else 0:.1f} %"] for k, s in stages.items()]))
    if result is not None:
        rows = [["TPS score", f"{100 * result.score:.2f} %"], ["video top-1 accuracy", f"{100 * result.video_accuracy:.1f} %"],
                ["mean PSC", f"{100 * result.mean_psc:.1f} %"], ["videos with ground truth", len(result.video_ids)]]
        out.append("<h2>Kinetics-TPS score</h2>" + _table(["metric", "value"], rows))
    if failures:
        out.append("<h2>Failures</h2><ul>" + "".join(f"<li class=err>{html.escape(p)}: {html.escape(m)}</li>"
                                                      for p, m in failures) + "</ul>")
    return "\n".join(out)


def _video_html(video: ReportVideo, psc: float | None, correct: bool | None, gt_frames, gt_action: str | None) -> str:
    p, facts = video.prediction, video.facts
    score = facts.get("action_score")
    head = f"<h3>{html.escape(p.video_id)}</h3><p>action: <b>{html.escape(p.action)}</b>"
    head += f" ({score:.3f})" if score is not None else ""
    if gt_action is not None:
        head += f" &mdash; ground truth: {html.escape(gt_action)} <span class={'ok' if correct else 'err'}>" \
                f"{'correct' if correct else 'wrong'}</span>, PSC {100 * psc:.1f} %"
    head += "</p>"
    thumb = thumbnail(video)
    img = f'<img alt="thumbnail of {html.escape(p.video_id)}" src="{thumb}">' if thumb else "<p>(video not readable)</p>"
    top5 = facts.get("top5", {}).get("action", [])
    side = _table(["action", "probability"], [[n, f"{s:.3f}"] for n, s in top5]) if top5 else ""
    states = facts.get("part_states", {})
    side += _table(["coarse part", "state", "source"],
                   [[c, s if s is not None else "(left out)", facts.get("state_sources", {}).get(c, "")]
                    for c, s in states.items()])
    plot = timeline_png(p, gt_frames)
    timeline = f'<img alt="part-state timeline" src="{plot}">' if plot else "<p>(matplotlib not installed: no timeline)</p>"
    return f'<div class=video>{head}<div class=row><div>{img}</div><div>{side}</div></div>{timeline}</div>'


def write_html_report(videos: Sequence[ReportVideo], out_path: str | Path, gt_dir: str | Path | None = None,
                      failures: Sequence[tuple[str, str]] = (), title: str = "partparse: parsed videos",
                      extra_sections: Sequence[ReportSection] = ()) -> Path:
    """Write the page to ``out_path`` (atomically) and return its path; ``extra_sections`` (tables,
    figures) come after the summary, before the videos."""
    result, gt_vid, gt_part = None, {}, {}
    if gt_dir is not None:
        result, gt_vid, gt_part = score_videos([v.prediction for v in videos], gt_dir)
    index = {vid: i for i, vid in enumerate(result.video_ids)} if result is not None else {}
    sections = []
    for v in videos:
        i = index.get(v.prediction.video_id)
        gt_action = None
        psc = correct = None
        if i is not None:
            psc, correct = float(result.psc[i]), bool(result.action_correct[i])
            gt_action = gt_vid[v.prediction.video_id]
        sections.append(_video_html(v, psc, correct, gt_part.get(v.prediction.video_id) if i is not None else None,
                                    gt_action))
    page = (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{_summary_html(videos, failures, result)}{''.join(x.to_html() for x in extra_sections)}"
            f"{''.join(sections)}</body></html>")
    return atomic_write(out_path, lambda fh: fh.write(page))

