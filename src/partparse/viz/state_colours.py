"""One colour per part state for a whole report, so that every plot and table can be compared by eye.

Colours used to be assigned per plot, in the order the plot's states sorted: ``bend`` was blue in one
video's timeline and ``clap`` blue in the next. :func:`state_palette` gives each state of a vocabulary
(:class:`~partparse.data.vocabulary.Vocabulary` order: ``none`` first, then the others sorted, as
:meth:`Vocabulary.from_annotations` orders them) a fixed colour: ``none`` light grey and ``unknown`` (the
parser's state for parts with no source) dark grey, so that the states that mean something stand out;
the others take matplotlib's ``tab20`` colours without its greys (strong ones first), then golden-angle
hues past 18. Hex
strings, so HTML (legend, table swatches) and matplotlib share them without importing matplotlib here.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Iterable, Mapping

from partparse.data.vocabulary import NO_STATE

#: The parser's default ``missing_state`` (:class:`~partparse.pipeline.parser.ParserConfig`).
UNKNOWN_STATE = "unknown"
#: Colour of a cell where no person has the part (timelines).
ABSENT_COLOUR = "#ffffff"
#: Fixed colours of the states that say "nothing happens" / "no source".
SPECIAL_COLOURS = {NO_STATE: "#d9d9d9", UNKNOWN_STATE: "#7f7f7f"}
#: matplotlib's tab20 without its two greys (which the special states use): its 9 strong colours first,
#: then their light pairs, so that a small vocabulary gets colours that differ most.
_TAB18 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
          "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5")


def ordered_states(states: Iterable[str]) -> list[str]:
    """``none`` first, then the others sorted, ``unknown`` last (the vocabulary's order)."""
    found = set(states)
    rest = sorted(found - {NO_STATE, UNKNOWN_STATE})
    return ([NO_STATE] if NO_STATE in found else []) + rest + ([UNKNOWN_STATE] if UNKNOWN_STATE in found else [])


def _hue_colour(i: int) -> str:
    r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.6, 0.85)
    return f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"


def state_palette(states: Iterable[str]) -> dict[str, str]:
    """``{state: "#rrggbb"}`` for every state of ``states`` (a vocabulary's, or all those a report shows),
    in :func:`ordered_states` order; distinct colours for any number of states."""
    palette: dict[str, str] = {}
    i = 0
    for state in ordered_states(states):
        if state in SPECIAL_COLOURS:
            palette[state] = SPECIAL_COLOURS[state]
        else:
            palette[state] = _TAB18[i] if i < len(_TAB18) else _hue_colour(i)
            i += 1
    return palette


def swatch_html(colour: str) -> str:
    return f'<span class=sw style="background:{html.escape(colour)}"></span>'


def legend_html(palette: Mapping[str, str]) -> str:
    """A one-line legend: a colour swatch and the name of each state."""
    items = "".join(f"<span class=lg>{swatch_html(c)}{html.escape(s)}</span>" for s, c in palette.items())
    return f"<p class=legend>part states: {items}<span class=lg>{swatch_html(ABSENT_COLOUR)}(no such part)</span></p>"
