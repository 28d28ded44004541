"""``partparse evaluate``: the Kinetics-TPS score of a submission folder against a ground-truth folder."""

from __future__ import annotations

import contextlib
import gc
import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.data.tps_format import GT_PART_FILE, GT_VID_FILE, PRED_PART_FILE, PRED_VID_FILE
from partparse.data.vocabulary import COARSE_PARTS
from partparse.evaluation.tps_metric import (
    GRID_IOUS,
    OFFICIAL_HUMAN_IOU,
    OFFICIAL_PART_IOU,
    TPSEvaluator,
)
from partparse.io import InputError, one_line


class Matching(str, Enum):
    official = "official"
    corrected = "corrected"


def check_threshold(name: str, value: float) -> float:
    """An IoU threshold must lie in (0, 1]: NaN, 0 or less, or above 1 would score every submission 0."""
    if not 0 < value <= 1:                       # False for NaN too
        raise InputError(f"--{name} must be in (0, 1], got {value}")
    return value


def _with_folders(err: InputError, gt: Path, pred: Path) -> InputError:
    """The metric's messages name the official files (``pred_part_result.json [video ...]``); say which
    folder's file is meant."""
    text = str(err)
    for folder, names in ((gt, (GT_VID_FILE, GT_PART_FILE)), (pred, (PRED_VID_FILE, PRED_PART_FILE))):
        for name in names:
            if text.startswith(name):
                return InputError(str(folder / name) + text[len(name):])
    return err


def evaluate(
    gt: Annotated[Path, typer.Option(help="Folder with gt_vid_result.json and gt_part_result.json.")],
    pred: Annotated[Path, typer.Option(help="Folder with pred_vid_result.json and pred_part_result.json.")],
    human_iou: Annotated[float, typer.Option(help="HUMAN_IOU_THRESH (a match needs IoU > this).")] = OFFICIAL_HUMAN_IOU,
    part_iou: Annotated[float, typer.Option(
        help="PART_IOU_THRESH (a part hit needs IoU >= this).")] = OFFICIAL_PART_IOU,
    matching: Annotated[Matching, typer.Option(
        help="official: disjoint pairs enter the assignment with IoU -1 (the official script); "
             "corrected: they count 0.")] = Matching.official,
    grid: Annotated[bool, typer.Option(help="Also score the official 5x5 grid of human/part IoU thresholds.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Score a submission with the Kinetics-TPS metric (same number as the official evaluator)."""
    console = Console()
    try:
        check_threshold("human-iou", human_iou)
        check_threshold("part-iou", part_iou)
        with without_huge_page_advice():
            ev = TPSEvaluator.from_folders(gt, pred, matching.value)    # (the route is chosen there)
            gc.freeze()  # millions of parsed objects on the general route: keep collections from walking them again
            result = ev.evaluate(human_iou, part_iou)
            parts = ev.part_state_accuracy(human_iou)
            grid_results = ev.grid() if grid else None
    except InputError as err:
        err = _with_folders(err, gt, pred)
        Console(stderr=True).print(f"[red]error:[/red] {escape(one_line(str(err)))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        out = result.to_dict()
        out["part_state_accuracy"] = parts
        if grid_results is not None:
            out["grid"] = [{"human_iou": h, "part_iou": p, "score": r.score,
                            "accuracy_at": {str(k): v for k, v in r.accuracy_at.items()}}
                           for (h, p), r in grid_results.items()]
        typer.echo(json.dumps(out))
        return
    _print_tables(console, result, parts, grid_results)


@contextlib.contextmanager
def without_huge_page_advice():
    """Stop NumPy from asking Linux for transparent huge pages for its arrays of 4 MB and more while the
    metric runs here and in the readers it forks (unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise).

    Scoring a test-set submission allocates ~150 MB of short-lived arrays. Where the kernel compacts memory
    on a huge-page fault (THP ``defrag`` "madvise", its default) and reading the files has just filled
    the page cache, a fresh 2 MB page can stall for milliseconds; measured here, `evaluate --grid` ran
    0.1 s faster without the advice (docs/benchmarks.md). NumPy reads the variable only at import; its
    switch at run time is private, hence the guard."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        _set_madvise_hugepage = None
    if _set_madvise_hugepage is None or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        yield
        return
    before = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(before)


def _print_tables(console: Console, result, parts: dict, grid_results) -> None:
    t = Table(title=f"Kinetics-TPS ({len(result.video_ids)} videos, matching={result.matching})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row(f"TPS score (human IoU {result.human_iou}, part IoU {result.part_iou})", f"{100 * result.score:.4f} %")
    t.add_row("video top-1 accuracy", f"{100 * result.video_accuracy:.2f} %")
    t.add_row("mean PSC", f"{100 * result.mean_psc:.2f} %")
    for k, v in result.accuracy_at.items():
        t.add_row(f"accuracy at PSC >= {k}", f"{100 * v:.2f} %")
    console.print(t)
    p = Table(title="Video-level part-state accuracy (%, majority state per coarse part)")
    order = [c for c in COARSE_PARTS if c in parts] + [c for c in parts if c not in COARSE_PARTS]
    for c in order:
        p.add_column(c, justify="right")
    p.add_row(*[f"{100 * parts[c]:.1f}" for c in order])
    console.print(p)
    if grid_results is not None:
        g = Table(title="Official grid: TPS score (%) by human IoU (rows) x part IoU (columns)")
        g.add_column("human \\ part")
        for pi in GRID_IOUS:
            g.add_column(str(pi), justify="right")
        for hi in GRID_IOUS:
            g.add_row(str(hi), *[f"{100 * grid_results[(hi, pi)].score:.4f}" for pi in GRID_IOUS])
        console.print(g)
