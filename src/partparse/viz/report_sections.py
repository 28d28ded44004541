"""Extra sections of the HTML report: a titled table and/or figures (PNG files, inlined as base64).

What a run measured beside the parsed videos goes here, e.g. the demo's Table 1 and its learning
curves: :func:`~partparse.viz.html_report.write_html_report` renders them above the videos.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportSection:
    """``title``, then an optional ``note`` (plain text), a table (``header`` + ``rows``; cells are text)
    and ``figures`` (PNG files, each with its caption)."""

    title: str
    note: str = ""
    header: Sequence[str] = ()
    rows: Sequence[Sequence[object]] = ()
    figures: Sequence[tuple[str, Path]] = ()

    def to_html(self) -> str:
        parts = [f"<h2>{html.escape(self.title)}</h2>"]
        if self.note:
            parts.append(f"<p>{html.escape(self.note)}</p>")
        if self.header:
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in self.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                           for row in self.rows)
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        for caption, png in self.figures:
            data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
            parts.append(f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{html.escape(caption)}\" "
                         f"style=\"max-width:100%\"><figcaption>{html.escape(caption)}</figcaption></figure>")
        return f"<section class=extra>{''.join(parts)}</section>"
