"""``partparse synth``: generate a SynTPS synthetic dataset, or preview one of its videos.

    partparse synth --out DIR --videos N --seed S [--actions K --fps 15 --size 320x240 --frames 64
                    --val-fraction 0.2 --max-people 3 --workers 2]
    partparse synth --out DIR --preset bench [--workers 2]      # the SynTPS benchmark (data/synthetic/presets.py)
    partparse synth --preview DIR/VIDEO_ID_OR_PATH [--out sheet.png]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from partparse.io import InputError, one_line

_SIZE = re.compile(r"^(\d+)x(\d+)$")


def parse_size(text: str) -> tuple[int, int]:
    """``'320x240'`` -> ``(320, 240)``; anything else raises ValueError."""
    m = _SIZE.match(text.strip().lower())
    if m is None:
        raise ValueError(f"--size must look like WIDTHxHEIGHT (e.g. 320x240), got {text!r}")
    return int(m.group(1)), int(m.group(2))


_CONTENT_OPTIONS = ("videos", "seed", "actions", "fps", "size", "frames", "val_fraction", "max_people")


def synth(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Dataset folder to create (with --preview: the PNG to write).")] = None,
    videos: Annotated[int, typer.Option(help="Number of videos.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical annotations.")] = 0,
    actions: Annotated[int, typer.Option(help="Number of action classes (first K of the built-in 10).")] = 10,
    fps: Annotated[int, typer.Option(help="Frames per second of the videos.")] = 15,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT (even numbers).")] = "320x240",
    frames: Annotated[int, typer.Option(help="Frames per video (every 5th is annotated).")] = 64,
    val_fraction: Annotated[float, typer.Option(help="Share of videos in the val split.")] = 0.2,
    max_people: Annotated[int, typer.Option(help="Most persons in a scene (1-10; Kinetics-TPS keyframes hold up "
                                                 "to 10).")] = 3,
    workers: Annotated[int, typer.Option(help="Processes rendering videos in parallel.")] = 1,
    force: Annotated[bool, typer.Option(help="Write into an existing non-empty folder, first removing what a "
                                             "previous synth wrote there.")] = False,
    preview: Annotated[str | None, typer.Option(
        help="DIR/VIDEO_ID or a video path: draw a contact sheet instead.")] = None,
    preset: Annotated[str | None, typer.Option(
        help="A named dataset (bench: the SynTPS benchmark); fixes every content option.")] = None,
) -> None:
    """Generate a synthetic dataset in the Kinetics-TPS layout (SynTPS), or preview one of its videos."""
    from partparse.data.synthetic.generator import SynthConfig, generate_dataset
    from partparse.data.synthetic.layout import SynthLayout
    from partparse.data.synthetic.preview import contact_sheet, resolve_preview_target
    from partparse.output_folder import prepare_output_folder

    console = Console(stderr=True, soft_wrap=True)   # (an error stays one line, however long its path)
    try:
        if preview is not None:
            root, video_id = resolve_preview_target(preview)
            png = contact_sheet(root, video_id, out if out is not None else Path(f"{video_id}_preview.png"))
            console.print(f"wrote {png}", markup=False, highlight=False)
            return
        if out is None:
            raise ValueError("--out DIR is required (or --preview DIR/VIDEO_ID)")
        if preset is not None:
            from partparse.data.synthetic.presets import preset_config

            given = [f"--{n.replace('_', '-')}" for n in _CONTENT_OPTIONS
                     if getattr(ctx.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT"]
            if given:
                raise ValueError(f"--preset {preset} fixes the content: drop {', '.join(given)}")
            cfg = preset_config(preset)
        else:
            width, height = parse_size(size)
            cfg = SynthConfig(videos=videos, seed=seed, actions=actions, fps=fps, width=width, height=height,
                              frames=frames, val_fraction=val_fraction, max_people=max_people)
        # --force: the previous dataset's videos must not stay beside the new ones
        prepare_output_folder(out, force, SynthLayout(out).written())
        with Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("videos", total=cfg.videos)
            summary = generate_dataset(cfg, out, workers=workers,
                                       progress=lambda done, total: bar.update(task, completed=done))
        console.print(f"wrote {summary.root}: {summary.videos['train']} train + {summary.videos['val']} val videos, "
                      f"{summary.annotated_frames} annotated frames, {summary.persons} persons, {summary.parts} parts")
    except (InputError, ValueError) as err:
        console.print(f"error: {one_line(str(err))}", markup=False, highlight=False)
        raise typer.Exit(2) from None
