"""``partparse validate``: list every problem of a Kinetics-TPS ground-truth or submission file/folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from partparse.data.tps_format import (
    GT_PART_FILE,
    GT_VID_FILE,
    PRED_PART_FILE,
    PRED_VID_FILE,
    read_result_files,
)
from partparse.data.tps_validation import Problem, check_part_results, check_same_videos, check_video_results
from partparse.data.vocabulary import BODY_PARTS, Vocabulary
from partparse.io import InputError, one_line, read_json

_KINDS = {GT_VID_FILE: ("vid", False), GT_PART_FILE: ("part", False),
          PRED_VID_FILE: ("vid", True), PRED_PART_FILE: ("part", True)}


def _guess_kind(data) -> tuple[str, bool]:
    """(vid|part, submission) of a JSON object whose file name says nothing."""
    if isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
        return "vid", False
    for frames in (data.values() if isinstance(data, dict) else []):
        for frame in (frames.values() if isinstance(frames, dict) else []):
            humans = frame.get("humans") if isinstance(frame, dict) else None
            for h in humans if isinstance(humans, list) else []:
                parts = h.get("parts") if isinstance(h, dict) else None
                for part in parts.values() if isinstance(parts, dict) else []:
                    if isinstance(part, dict):
                        return "part", isinstance(part.get("verb"), list)
    return "part", False


def validate_path(path: Path, gt: Path | None = None, vocab: Vocabulary | None = None,
                  submission: bool | None = None, unknown: str = "error") -> list[Problem]:
    """Problems of a file or folder (GT or submission); ``gt`` adds the cross-check of video sets.

    Names outside ``vocab`` are reported with severity ``unknown`` (a vocabulary inferred from a GT
    folder is not authoritative, so the CLI makes them warnings there).
    """
    # lexists: a dangling or looping link in a file's place is listed, and read_json reports it
    files = ([path / n for n in _KINDS if os.path.lexists(path / n)] if path.is_dir() else [path])
    if path.is_dir() and not files:
        raise InputError(f"{path}: no gt_*_result.json or pred_*_result.json files in the folder")
    problems: list[Problem] = [] if not path.is_dir() else _missing_halves(path, files)
    loaded: dict[tuple[str, bool], dict] = {}
    for f in files:
        try:
            data = read_json(f)
        except InputError as err:
            problems.append(Problem(str(f), str(err).split(": ", 1)[-1]))
            continue
        kind, sub = _KINDS.get(f.name) or _guess_kind(data)
        if submission is not None and f.name not in _KINDS:
            sub = submission
        if kind == "vid":
            problems += check_video_results(data, str(f), vocab, unknown)
        else:
            problems += check_part_results(data, str(f), submission=sub, vocab=vocab, unknown=unknown)
        if isinstance(data, dict):
            loaded[(kind, sub)] = data
            loaded.setdefault(("file", sub), {})[kind] = str(f)
    for sub in (False, True):
        if ("vid", sub) in loaded and ("part", sub) in loaded:
            names = loaded[("file", sub)]
            problems += check_same_videos(loaded[("vid", sub)], names["vid"], loaded[("part", sub)], names["part"])
    if gt is not None:
        gt_vid, _ = read_result_files(gt, submission=False)
        for kind in ("vid", "part"):
            if (kind, True) in loaded:
                problems += check_same_videos(gt_vid, str(gt / GT_VID_FILE), loaded[(kind, True)],
                                              loaded[("file", True)][kind])
    return problems


def _missing_halves(folder: Path, present: list[Path]) -> list[Problem]:
    """A folder holding one file of a pair (GT or submission) lacks the other: the official evaluator
    reads both, so that is an error of the folder."""
    names = {f.name for f in present}
    problems = []
    for pair in ((GT_VID_FILE, GT_PART_FILE), (PRED_VID_FILE, PRED_PART_FILE)):
        for name, other in (pair, pair[::-1]):
            if other in names and name not in names:
                problems.append(Problem(str(folder / name), f"file missing (the folder has {other}; "
                                                             "the evaluator reads both)"))
    return problems


def validate(
    path: Annotated[Path, typer.Argument(help="A *_result.json file or a GT/submission folder.")],
    gt: Annotated[Path | None, typer.Option(help="GT folder: check the submission covers its videos "
                                                    "and uses its vocabulary.")] = None,
    vocab_dir: Annotated[Path | None, typer.Option("--vocab", help="A Kinetics-TPS list/ folder "
                                                     "(body_part.txt, part_stat.txt; action.txt where it has "
                                                     "one, as SynTPS) to check names against.")] = None,
    max_shown: Annotated[int, typer.Option(help="Show at most this many problems (all are counted).")] = 200,
) -> None:
    """Check a ground-truth or submission file; exit code 2 if it has errors."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if max_shown < 0:
            raise InputError(f"--max-shown must be >= 0, got {max_shown}")
        unknown = "error"
        if vocab_dir is not None:
            if (vocab_dir / "list").is_dir() and not os.path.lexists(vocab_dir / "body_part.txt"):
                vocab_dir = vocab_dir / "list"          # a dataset root (SynTPS) rather than its list/
            vocab = Vocabulary.from_list_dir(vocab_dir)
        elif gt is not None:
            # the GT is the reference here: it must be valid itself (one line naming its first problem)
            vocab = Vocabulary.from_annotations(*read_result_files(gt, submission=False))
            vocab = Vocabulary(vocab.actions, BODY_PARTS + tuple(p for p in vocab.parts if p not in BODY_PARTS),
                               vocab.states)
            unknown = "warning"
        else:
            vocab = Vocabulary(actions=(), parts=BODY_PARTS, states=None)
        problems = validate_path(path, gt, vocab, unknown=unknown)
    except InputError as err:
        console.print(f"[red]error:[/red] {escape(one_line(str(err)))}")
        raise typer.Exit(2) from None
    n_err = sum(p.severity == "error" for p in problems)
    for p in problems[:max_shown]:
        colour = "red" if p.severity == "error" else "yellow"
        console.print(f"[{colour}]{escape(str(p))}[/{colour}]")
    if len(problems) > max_shown:
        console.print(f"... and {len(problems) - max_shown} more")
    verdict = "[red]invalid[/red]" if n_err else "[green]valid[/green]"
    console.print(f"{escape(str(path))}: {verdict} ({n_err} errors, {len(problems) - n_err} warnings)")
    if n_err:
        raise typer.Exit(2)
