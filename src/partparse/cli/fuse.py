"""``partparse fuse``: search ensemble fusion weights on validation scores and write them to a recipe.

``--recipe R`` edits R in place with a round-trip YAML editor (ruamel.yaml): only the weights change,
its comments, key order and layout stay. A parse recipe gets ``models.fusion_weights`` (what the parser
reads), a video recipe its ``fusion`` section. Only heads every file has are fused: the CSNs' files with
the pose stream's (``val_scores.npz`` of a skeleton run, last) give ``action`` one weight per CSN and
one for the pose stream. R must be a valid recipe before, and is checked to be one
after the edit, before it is replaced (atomically).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from partparse.experiments.fusion_search import search_head_weights
from partparse.io import InputError, atomic_write, short_repr

#: Largest ``--max-weight``, and most weight vectors one search may try ((max_weight + 1) ** models).
MAX_WEIGHT = 100
MAX_COMBINATIONS = 1_000_000


def fuse(
    scores: Annotated[list[Path], typer.Argument(help="Validation score files (.npz), one per model, in the "
                                                      "order of the recipe's ensemble.")],
    recipe: Annotated[Path | None, typer.Option(help="Recipe YAML to update (a parse recipe's "
                                                        "models.fusion_weights or a video recipe's fusion "
                                                        "section; comments are kept; written atomically).")] = None,
    max_weight: Annotated[int, typer.Option(help="Weights searched: integers 0..max_weight.")] = 10,
) -> None:
    """Search per-model (and per-head) fusion weights that maximise validation top-1 accuracy.

    Bad input (fewer than two files, a bad ``--max-weight``, a score file that is truncated or of other
    shapes, a recipe that is not a valid parse or video recipe) raises :class:`InputError` before
    anything is written.
    """
    if len(scores) < 2:
        raise InputError("fuse needs the score files of at least two models")
    if not 1 <= max_weight <= MAX_WEIGHT:
        raise InputError(f"--max-weight must be 1..{MAX_WEIGHT}, got {max_weight}")
    if (max_weight + 1) ** len(scores) > MAX_COMBINATIONS:
        raise InputError(f"{len(scores)} models with --max-weight {max_weight} make more than {MAX_COMBINATIONS} "
                         "weight vectors: lower --max-weight")
    if recipe is not None:
        _fusion_task(recipe)  # a recipe fuse cannot write is refused before the search
    found = search_head_weights(scores, grid=tuple(range(max_weight + 1)))
    if recipe is not None:
        _write_fusion(recipe, [str(s) for s in scores], found)
    table = Table(title="Fusion weights (validation top-1 accuracy, %)")
    table.add_column("head")
    table.add_column("weights")
    for s in scores:
        table.add_column(escape(s.name), justify="right")
    table.add_column("fused", justify="right")
    for head, r in found.items():
        table.add_row(escape(head), " / ".join(f"{w:g}" for w in r["weights"]),
                      *[f"{100 * a:.1f}" for a in r["single"]], f"{100 * r['fused']:.1f}")
    Console().print(table)


def _recipe_class(task: str) -> type:
    if task == "parse":
        from partparse.pipeline.parse_recipe import ParseRecipe

        return ParseRecipe
    from partparse.engine.video_recipe import VideoRecipe

    return VideoRecipe


def _fusion_task(recipe: Path) -> str:
    """The task of ``recipe`` (``parse`` or ``video``), after checking it is a valid recipe of that task."""
    from partparse.config import load_recipe, read_recipe_dict

    task = read_recipe_dict(recipe).get("task", "video")
    if task not in ("parse", "video"):
        raise InputError(f"{recipe}: a {short_repr(task)} recipe has no fusion weights (a parse or video recipe "
                         "has)")
    load_recipe(recipe, _recipe_class(task))
    return task


def _write_fusion(recipe: Path, files: list[str], found: dict[str, dict[str, Any]]) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from partparse.config import from_dict, parse_yaml

    task = _fusion_task(recipe)
    editor = YAML()  # round-trip mode: comments, key order, quotes and flow style are kept
    editor.preserve_quotes = True
    # ruamel writes None as an empty value; our recipes spell it out ("padding: null  # the pose recipe's")
    editor.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null",
                                                                                      "null"))
    data = editor.load(recipe.read_text(encoding="utf-8"))
    weights = CommentedMap()
    for head, r in found.items():
        weights[head] = CommentedSeq(float(w) for w in r["weights"])
        weights[head].fa.set_flow_style()  # action: [7.0, 1.0]
    if task == "parse":
        if data.get("models") is None:
            data["models"] = CommentedMap()
        data["models"]["fusion_weights"] = weights
    else:
        if data.get("fusion") is None:
            data["fusion"] = CommentedMap()
        score_files = CommentedSeq(files)
        score_files.fa.set_flow_style()
        data["fusion"]["score_files"] = score_files
        data["fusion"]["weights"] = weights
    buf = io.StringIO()
    editor.dump(data, buf)
    text = buf.getvalue()
    from_dict(_recipe_class(task), parse_yaml(text, str(recipe)), where=str(recipe))  # still a valid recipe
    atomic_write(recipe, lambda fh: fh.write(text))
