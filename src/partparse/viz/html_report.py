"""One self-contained HTML page about parsed videos: timings, scores, thumbnails, part-state timelines.

The page opens with what the run measured (video frames and keyframes parsed, seconds per stage from
the parser's own timers, video frames per second and the ratio to the videos' duration, model loading)
and, with a ground-truth folder, the Kinetics-TPS score of the parsed videos
(:class:`~partparse.evaluation.tps_metric.TPSEvaluator`; the GT is restricted to the videos parsed).
One legend gives the colour of every part state, the same in every table and plot of the page
(:mod:`partparse.viz.state_colours`). Per video: a thumbnail (the middle keyframe with the overlay
drawn), the action with its top-5 scores, the state of each coarse part and where it came from, its
PSC with GT, and timelines per person track and for the ground truth (:mod:`partparse.viz.timelines`).

The per-video facts are what the parser measured (:meth:`~partparse.pipeline.parser.ParseResult.summary`,
as ``partparse parse`` writes them; :meth:`ReportVideo.from_parse_result` for a parse in memory). A video
without them still gets its section: its coarse-part states are read off the prediction (source
``prediction``) and the page says that no timings were recorded, never "0.0 s".

Images are inline PNGs (base64), so the page is one file. A missing matplotlib leaves the timelines out
with a note.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from partparse.data.tps_format import read_result_files, submission_to_json
from partparse.data.vocabulary import COARSE_PARTS, coarse_part
from partparse.io import atomic_write
from partparse.structures import VideoPrediction, frame_index
from partparse.viz.overlay import draw_frame
from partparse.viz.report_sections import ReportSection
from partparse.viz.state_colours import legend_html, state_palette, swatch_html
from partparse.viz.timelines import timeline_png


@dataclass
class ReportVideo:
    """One parsed video: its prediction (with keypoints) and its per-video facts (see
    :mod:`partparse.pipeline.parse_output`: ``action_score``, ``part_states``, ``state_sources``, ``top5``,
    ``timings``, ``video_path``, ...)."""

    prediction: VideoPrediction
    facts: Mapping

    @classmethod
    def from_parse_result(cls, result, video_path: str | Path) -> ReportVideo:
        """From a :class:`~partparse.pipeline.parser.ParseResult` in memory: the facts
        ``partparse parse`` writes (timings included)."""
        return cls(result.prediction, {**result.summary(), "video_path": str(video_path)})


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
.err{color:#b00}.ok{color:#070}.sw{display:inline-block;width:.9em;height:.9em;border:1px solid #888;
vertical-align:middle;margin-right:.3em}.lg{margin-right:1em;white-space:nowrap}.legend{line-height:1.8}"""


class _Raw(str):
    """A table cell that is HTML already (a colour swatch), not text to escape."""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>" for c in r)
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _video_seconds(facts: Mapping) -> float | None:
    """Duration of the video from its facts, or None."""
    frames, fps = facts.get("num_frames"), facts.get("fps")
    return frames / fps if frames and fps else None


def timing_summary(videos: Sequence[ReportVideo], model_load_seconds: float | None = None) -> dict:
    """What the run measured, summed over the videos that carry timings: ``videos``, ``frames`` (video
    frames), ``keyframes``, ``seconds`` per stage and ``total``, ``frames_per_second``,
    ``keyframes_per_second``, ``x_real_time`` (video duration over parse time), ``model_load_seconds``;
    ``{}`` when no video carries timings."""
    timed = [v for v in videos if v.facts.get("timings")]
    if not timed:
        return {}
    stages: dict[str, float] = {}
    for v in timed:
        for k, s in v.facts["timings"].items():
            stages[k] = stages.get(k, 0.0) + float(s)
    total = stages.pop("total", sum(stages.values()))
    frames = sum(int(v.facts.get("num_frames", 0)) for v in timed)
    keyframes = sum(len(v.prediction.frames) for v in timed)
    durations = [_video_seconds(v.facts) for v in timed]
    duration = sum(d for d in durations if d) if all(durations) else None
    return {"videos": len(timed), "frames": frames, "keyframes": keyframes, "seconds": stages, "total": total,
            "frames_per_second": frames / total if frames and total > 0 else None,
            "keyframes_per_second": keyframes / total if total > 0 else None,
            "x_real_time": duration / total if duration and total > 0 else None,
            "model_load_seconds": model_load_seconds}


def _summary_html(videos: Sequence[ReportVideo], failures: Sequence[tuple[str, str]], result,
                  model_load_seconds: float | None) -> str:
    t = timing_summary(videos, model_load_seconds)
    out = [f"<p>{len(videos)} videos parsed, {len(failures)} failed.</p>"]
    if not t:
        out.append("<p>Timings: not recorded (these videos come without the parser's per-stage timings).</p>")
    else:
        what = f"{t['keyframes']} keyframes"
        if t["frames"]:
            what = f"{t['frames']} video frames ({what})"
        line = f"<p>Timings ({t['videos']} videos): {what} parsed in {t['total']:.2f} s"
        if t["frames_per_second"]:
            line += f": <b>{t['frames_per_second']:.1f} video frames/s</b>"
        if t["keyframes_per_second"]:
            line += f", {t['keyframes_per_second']:.1f} keyframes/s"
        if t["x_real_time"]:
            line += f", {t['x_real_time']:.1f}x real time"
        if model_load_seconds is not None:
            line += f"; models loaded once, in {model_load_seconds:.2f} s"
        out.append(line + ".</p>")
        total = t["total"]
        rows = [[k, f"{s:.2f}", f"{100 * s / total:.1f} %" if total > 0 else ""] for k, s in t["seconds"].items()]
        other = total - sum(t["seconds"].values())
        if other > 0.005:
            rows.append(["other (outside the stages)", f"{other:.2f}", f"{100 * other / total:.1f} %"])
        out.append(_table(["stage", "seconds", "share"], rows + [["total", f"{total:.2f}", "100 %"]]))
    if result is not None:
        rows = [["TPS score", f"{100 * result.score:.2f} %"],
                ["video top-1 accuracy", f"{100 * result.video_accuracy:.1f} %"],
                ["mean PSC", f"{100 * result.mean_psc:.1f} %"], ["videos with ground truth", len(result.video_ids)]]
        out.append("<h2>Kinetics-TPS score</h2>" + _table(["metric", "value"], rows))
    if failures:
        out.append("<h2>Failures</h2><ul>" + "".join(f"<li class=err>{html.escape(p)}: {html.escape(m)}</li>"
                                                      for p, m in failures) + "</ul>")
    return "\n".join(out)


def coarse_states(video: ReportVideo) -> list[tuple[str, str | None, str]]:
    """``[(coarse part, state or None, source), ...]``: the parser's video-level states and their
    sources from the facts; without them, the states the prediction gives each coarse part (the most
    frequent over its proposals), source ``prediction``."""
    states = video.facts.get("part_states")
    if states:
        sources = video.facts.get("state_sources", {})
        return [(c, s, sources.get(c, "")) for c, s in states.items()]
    counts: dict[str, dict[str, int]] = {}
    for frame in video.prediction.frames:
        for person in frame.persons:
            for name, proposals in person.parts.items():
                if proposals:
                    seen = counts.setdefault(coarse_part(name), {})
                    seen[proposals[0].state] = seen.get(proposals[0].state, 0) + 1
    order = [c for c in COARSE_PARTS if c in counts] + sorted(set(counts) - set(COARSE_PARTS))
    return [(c, max(counts[c], key=lambda s: (counts[c][s], s)), "prediction") for c in order]


def report_states(videos: Sequence[ReportVideo], gt_part: Mapping[str, Mapping] = {},
                  vocabulary_states: Sequence[str] = ()) -> list[str]:
    """Every state the page shows (predictions, coarse-part tables, the GT of its videos) and those of
    the vocabulary: the keys of the page's one colour map."""
    states = set(vocabulary_states)
    for v in videos:
        states |= {p[0].state for f in v.prediction.frames for person in f.persons for p in person.parts.values() if p}
        states |= {s for _, s, _ in coarse_states(v) if s is not None}
        for frame in gt_part.get(v.prediction.video_id, {}).values():
            for human in frame.get("humans", []):
                for part in human.get("parts", {}).values():
                    verb = part.get("verb")
                    states |= {x for x in (verb if isinstance(verb, list) else [verb]) if isinstance(x, str)}
    return sorted(states)


def _video_html(video: ReportVideo, palette: Mapping[str, str], psc: float | None, correct: bool | None,
                gt_frames, gt_action: str | None) -> str:
    p, facts = video.prediction, video.facts
    score = facts.get("action_score")
    head = f"<h3>{html.escape(p.video_id)}</h3><p>action: <b>{html.escape(p.action)}</b>"
    head += f" ({score:.3f})" if score is not None else ""
    if gt_action is not None:
        head += f" &mdash; ground truth: {html.escape(gt_action)} <span class={'ok' if correct else 'err'}>" \
                f"{'correct' if correct else 'wrong'}</span>, PSC {100 * psc:.1f} %"
    total = facts.get("timings", {}).get("total")
    if total:
        head += f"; parsed in {total:.2f} s"
        if facts.get("num_frames"):
            head += f" ({facts['num_frames'] / total:.1f} video frames/s)"
    head += "</p>"
    thumb = thumbnail(video)
    img = (f'<img alt="thumbnail of {html.escape(p.video_id)}" src="{thumb}">' if thumb
           else "<p>(video not readable)</p>")
    top5 = facts.get("top5", {}).get("action", [])
    side = _table(["action", "probability"], [[n, f"{s:.3f}"] for n, s in top5]) if top5 else ""
    rows = [[c, _Raw(swatch_html(palette[s]) + html.escape(s)) if s is not None else "(left out)", src]
            for c, s, src in coarse_states(video)]
    side += _table(["coarse part", "state", "source"], rows) if rows else "<p>(no parts predicted)</p>"
    plot = timeline_png(p, palette, gt_frames)
    timeline = (f'<img alt="part-state timelines" src="{plot}">' if plot
                else "<p>(matplotlib not installed: no timeline)</p>")
    return f'<div class=video>{head}<div class=row><div>{img}</div><div>{side}</div></div>{timeline}</div>'


def write_html_report(videos: Sequence[ReportVideo], out_path: str | Path, gt_dir: str | Path | None = None,
                      failures: Sequence[tuple[str, str]] = (), title: str = "partparse: parsed videos",
                      model_load_seconds: float | None = None, vocabulary_states: Sequence[str] = (),
                      extra_sections: Sequence[ReportSection] = ()) -> Path:
    """Write the page to ``out_path`` (atomically) and return its path. ``vocabulary_states``: a
    vocabulary's states (:attr:`~partparse.data.vocabulary.Vocabulary.states`), coloured even where no
    video shows them, so that two reports over the same vocabulary colour alike. ``extra_sections``
    (tables, figures: e.g. the demo's Table 1 and learning curves) come after the summary, before the
    videos."""
    result, gt_vid, gt_part = None, {}, {}
    if gt_dir is not None:
        result, gt_vid, gt_part = score_videos([v.prediction for v in videos], gt_dir)
    index = {vid: i for i, vid in enumerate(result.video_ids)} if result is not None else {}
    palette = state_palette(report_states(videos, {v: gt_part[v] for v in index}, vocabulary_states))
    sections = []
    for v in videos:
        i = index.get(v.prediction.video_id)
        gt_action = None
        psc = correct = None
        if i is not None:
            psc, correct = float(result.psc[i]), bool(result.action_correct[i])
            gt_action = gt_vid[v.prediction.video_id]
        gt_frames = gt_part.get(v.prediction.video_id) if i is not None else None
        sections.append(_video_html(v, palette, psc, correct, gt_frames, gt_action))
    page = (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{_summary_html(videos, failures, result, model_load_seconds)}{legend_html(palette)}"
            f"{''.join(x.to_html() for x in extra_sections)}"
            f"{''.join(sections)}</body></html>")
    return atomic_write(out_path, lambda fh: fh.write(page))
