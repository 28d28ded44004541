"""``partparse parse``: parse videos end to end into a Kinetics-TPS submission (+ overlays, HTML report).

    partparse parse VIDEO_OR_DIR... --recipe configs/parse/R.yaml --out OUT [--render] [--report] [--gt GT_DIR]
    partparse parse VIDEO --recipe pretrained-persons --out OUT   # built-in recipe, optional extra [pretrained]

Writes ``OUT/submission/`` (``pred_vid_result.json`` + ``pred_part_result.json``), ``OUT/videos/<id>.json``
per video (see :mod:`partparse.pipeline.parse_output`), ``OUT/parse_recipe.yaml`` (the recipe as run),
``OUT/summary.json``, with ``--render`` ``OUT/overlays/<id>.mp4`` and with ``--report`` ``OUT/report.html``.
A video that fails is reported in one line naming its file and the others go on; the exit code is then 1.
``OUT`` must be empty or new: a second run into it is refused unless ``--force``, which first removes what
a previous parse wrote there (:data:`OUTPUTS`, nothing else), so two runs never mix. Inputs (recipe,
models, ``--gt``) are checked before anything is written; bad input or a folder that cannot be written is
one line naming the file, exit code 2.

Several processes: ``torchrun --nproc-per-node N -m partparse.cli parse ...``: rank ``r`` parses
``videos[r::N]`` and rank 0 merges the submission and writes the report (the output folder must be
shared by the ranks, as it is on one node).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from partparse.io import InputError, read_json, write_json

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov")
RANKS_DIR = ".ranks"
#: Everything ``parse`` writes into ``--out`` (what ``--force`` removes before a new run).
OUTPUTS = ("submission", "videos", "overlays", RANKS_DIR, "parse_recipe.yaml", "summary.json", "report.html")


def collect_videos(inputs: Sequence[Path]) -> list[Path]:
    """Video files of ``inputs`` (files as given, folders searched recursively, sorted), in order;
    two videos with the same id (file stem) or a path that does not exist raise InputError."""
    videos: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise InputError(f"{item}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            videos += found
        elif item.exists():
            videos.append(item)
        else:
            raise InputError(f"{item}: no such file or folder")
    seen: dict[str, Path] = {}
    for v in videos:
        if v.stem in seen and seen[v.stem] != v:
            raise InputError(f"{v}: same video id {v.stem!r} as {seen[v.stem]} (ids are file names)")
        seen[v.stem] = v
    return list(dict.fromkeys(videos))


def failure_line(path: Path, err: BaseException) -> str:
    """One line naming the file: the message of an InputError (which names it already), else the type."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, InputError) and text.startswith(str(path)):
        return text
    return f"{path}: {text}" if isinstance(err, (InputError, ValueError)) else f"{path}: {type(err).__name__}: {text}"


def parse_videos(parser, videos: Sequence[Path], out: Path, render: bool = False,
                 console: Console | None = None, show_progress: bool = True) -> tuple[list[str], list[tuple[str, str]]]:
    """Parse ``videos`` one by one into ``out/videos/<id>.json`` (and ``out/overlays/<id>.mp4``).

    Returns ``(ids done, [(path, one-line error), ...])``; an exception of one video never stops the
    others (KeyboardInterrupt does).
    """
    from partparse.data.video_reader import TruncatedVideoWarning
    from partparse.pipeline.parse_output import write_parse_result
    from partparse.viz.overlay import render_overlay

    console = console or Console(stderr=True)
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress) as bar:
        overall = bar.add_task("videos", total=len(videos))
        current = bar.add_task("keyframes", total=None)

        def on_progress(k: int, n: int) -> None:
            bar.update(current, completed=k, total=n)

        for path in videos:
            bar.update(current, description=f"{escape(path.stem)[:40]}", completed=0, total=None)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", TruncatedVideoWarning)
                    try:
                        result = parser.parse(path, progress=on_progress)
                        write_parse_result(result, path, out / "videos")
                        if render:
                            render_overlay(path, result.prediction, out / "overlays" / f"{path.stem}.mp4",
                                           action_score=result.labels.action_score)
                    finally:
                        _show_warnings(caught, console)
                done.append(path.stem)
            except Exception as err:  # noqa: BLE001 - one bad video must not stop the others
                failed.append((str(path), failure_line(path, err)))
                console.print(f"[red]error:[/red] {escape(failed[-1][1])}", highlight=False, soft_wrap=True)
            bar.advance(overall)
        bar.update(current, visible=False)
    return done, failed


def _show_warnings(caught: list, console: Console) -> None:
    """A truncated video as one line (once, though each reader of the file warns); other warnings as
    Python shows them."""
    from partparse.data.video_reader import TruncatedVideoWarning

    for text in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, TruncatedVideoWarning)):
        console.print(f"[yellow]warning:[/yellow] {escape(text)}", highlight=False, soft_wrap=True)
    for w in caught:
        if not issubclass(w.category, TruncatedVideoWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def merge_outputs(videos: Sequence[Path], out: Path, world_size: int) -> tuple[list[Path], list[tuple[str, str]]]:
    """Rank 0 after every rank finished: the per-video files of this run in input order, and all failures."""
    from partparse.pipeline.parse_output import write_submission_from_videos

    done: set[str] = set()
    failed: list[tuple[str, str]] = []
    for rank in range(world_size):
        status = read_json(out / RANKS_DIR / f"rank_{rank}.json")
        done.update(status["done"])
        failed += [tuple(f) for f in status["failed"]]
    files = [out / "videos" / f"{v.stem}.json" for v in videos if v.stem in done]
    write_submission_from_videos(files, out / "submission")
    return files, failed


def parse(
    inputs: Annotated[list[Path], typer.Argument(help="Video files or folders (searched recursively).")],
    recipe: Annotated[str, typer.Option(help="Parse recipe: a YAML file (configs/parse/*.yaml) or a built-in "
                                             "name (pretrained-persons).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    render: Annotated[bool, typer.Option(help="Write an overlay MP4 per video.")] = False,
    report: Annotated[bool, typer.Option(help="Write OUT/report.html.")] = False,
    gt: Annotated[Path | None, typer.Option(help="Ground-truth folder: the report scores the parsed videos.")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a field: --set parser.pose_guidance=false")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    force: Annotated[bool, typer.Option(help="Parse into a non-empty --out: first remove what a previous "
                                             "parse wrote there.")] = False,
) -> None:
    """Parse videos into a Kinetics-TPS submission with the models a parse recipe names."""
    from partparse.config import save_recipe
    from partparse.data.tps_format import read_result_files
    from partparse.engine.distributed import barrier, cleanup, init_distributed
    from partparse.output_folder import check_output_folder, check_writable, clear_owned
    from partparse.pipeline import parse_recipe as pr

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        cfg = pr.load_parse_recipe(recipe, overrides or [])
        if gt is not None:
            read_result_files(gt, submission=False)  # the report scores against it: check it before parsing
        videos = collect_videos(inputs)
        pr.resolve_device(cfg.parser.device)  # fails early when CUDA is asked for but absent
        info = init_distributed("cpu" if cfg.parser.device == "cpu" else "auto")
        if cfg.parser.device in ("auto", "cuda"):
            cfg.parser.device = str(info.device)  # under torchrun: this rank's GPU
        t0 = time.perf_counter()
        parser = pr.build_parser(cfg)
        load_seconds = time.perf_counter() - t0
        check_output_folder(out, force)
    except (InputError, ValueError) as err:
        console.print(f"[red]error:[/red] {escape(str(err))}")
        raise typer.Exit(2) from None
    barrier(info)                            # every rank has checked --out before rank 0 changes it
    if info.is_main:
        try:
            if force:
                clear_owned(out, OUTPUTS)
            check_writable(out)
            save_recipe(cfg, out / "parse_recipe.yaml")
        except InputError as err:
            console.print(f"[red]error:[/red] {escape(str(err))}")
            raise typer.Exit(2) from None
    barrier(info)                            # the other ranks write only into the prepared folder
    states = parser_states(parser)
    shard = videos[info.rank::info.world_size]
    done, failed = parse_videos(parser, shard, out, render, console, progress and info.is_main)
    try:
        write_json(out / RANKS_DIR / f"rank_{info.rank}.json", {"done": done, "failed": [list(f) for f in failed]})
        barrier(info)
        if info.is_main:
            files, failed = merge_outputs(videos, out, info.world_size)
            _finish(files, failed, out, report, gt, load_seconds, console, states)
    except InputError as err:                # a disk that filled up or went read-only during the run
        console.print(f"[red]error:[/red] {escape(str(err))}")
        raise typer.Exit(2) from None
    finally:
        cleanup(info)
    if failed:
        raise typer.Exit(1)


def parser_states(parser) -> list[str]:
    """The part states the parser can give: its video models' part-state labels, its class prior's
    states and its ``missing_state``. The report colours them all, so that reports of one recipe colour
    alike whatever states their videos show."""
    from partparse.data.part_labels import state_of_label

    states = {parser.config.missing_state} - {None}
    scorer = parser.video_scorer
    for head, names in (scorer.class_names.items() if scorer is not None else []):
        if head != "action":
            states |= {state_of_label(n) for n in names}
    prior = parser.state_prior
    for table in (prior.table.values() if prior is not None else []):
        states |= set(table.values())
    return sorted(states)


def _finish(files: list[Path], failed: list[tuple[str, str]], out: Path, report: bool, gt: Path | None,
            load_seconds: float, console: Console, states: Sequence[str] = ()) -> None:
    from partparse.pipeline.parse_output import read_parsed_video

    parsed = [read_parsed_video(f) for f in files]
    stages: dict[str, float] = {}
    keyframes = frames = 0
    for prediction, facts in parsed:
        keyframes += len(prediction.frames)
        frames += int(facts.get("num_frames", 0))
        for k, s in facts.get("timings", {}).items():
            stages[k] = stages.get(k, 0.0) + float(s)
    total = stages.get("total", 0.0)
    summary = {"videos": len(parsed), "failed": [{"path": p, "error": e} for p, e in failed],
               "frames": frames, "keyframes": keyframes, "seconds": stages, "model_load_seconds": load_seconds,
               "frames_per_second": frames / total if total else None}
    write_json(out / "summary.json", summary, indent=1)
    if report:
        from partparse.viz.html_report import ReportVideo, write_html_report

        write_html_report([ReportVideo(p, f) for p, f in parsed], out / "report.html", gt, failed,
                          model_load_seconds=load_seconds, vocabulary_states=states)
    table = Table(title=f"parsed {len(parsed)} videos ({len(failed)} failed): {frames} frames, {keyframes} keyframes")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for k, s in stages.items():
        table.add_row(k, f"{s:.2f}")
    if total:
        table.add_row("video frames / s", f"{frames / total:.1f}")
    Console().print(table)
    console.print(f"wrote {escape(str(out / 'submission'))}"
                  + (f" and {escape(str(out / 'report.html'))}" if report else ""))
