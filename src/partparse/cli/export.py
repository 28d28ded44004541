"""``partparse export-coco``: COCO JSON (+ images) of a Kinetics-TPS-layout split for detector/pose training."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from partparse.io import InputError, one_line


class Export(str, Enum):
    persons = "persons"
    parts = "parts"
    pose = "pose"


def export_coco(
    root: Annotated[Path, typer.Argument(help="Dataset root (SynTPS or Kinetics-TPS layout).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    split: Annotated[str, typer.Option(help="Split to export (train, val, ...).")] = "train",
    what: Annotated[list[Export] | None, typer.Option(help="Which exports (default: all three).")] = None,
    margin: Annotated[float, typer.Option(help="Person-crop margin for the part export (fraction of size).")] = 0.15,
) -> None:
    """Write COCO detection JSON for persons, for parts on person crops, and COCO keypoints for pose."""
    from partparse.data.synthetic.export_coco import (
        check_export_inputs,
        export_part_detection,
        export_person_detection,
        export_pose,
    )
    from partparse.output_folder import check_output_folder, check_writable

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    todo = what or list(Export)
    try:
        # everything read is checked before anything is written (no half export); the exports of several
        # splits share one folder, so a non-empty --out is fine, but it must be a writable folder
        check_export_inputs(root, split, margin, parts=Export.parts in todo, pose=Export.pose in todo)
        check_output_folder(out, force=True)
        check_writable(out)
        for w in todo:
            with console.status(f"exporting {w.value} of {split} ..."):
                if w is Export.persons:
                    path = export_person_detection(root, split, out)
                elif w is Export.parts:
                    path = export_part_detection(root, split, out, margin=margin)
                else:
                    path = export_pose(root, split, out)
            console.print(f"wrote {escape(str(path))}")
    except InputError as err:
        console.print(f"[red]error:[/red] {escape(one_line(str(err)))}")
        raise typer.Exit(2) from None
