"""Pack a finished training run into the model zoo (``partparse zoo pack``).

The entry keeps what the loaders read (``recipe.yaml``, ``label_spaces.json``), the run's
``metrics.jsonl`` (its learning curve) and the model weights only, in float16 unless ``dtype='float32'``
(halves the size; the zoo tests re-measure each model with the packed weights, so a loss would show). The
manifest entry records the checksums and how the model was made; nothing else of the run (optimiser state,
logs) is kept.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from partparse.engine.checkpoint import checkpoint_of, read_model_state
from partparse.engine.tasks import task_of
from partparse.io import InputError, atomic_write
from partparse.model_zoo import registry
from partparse.model_zoo.registry import MANIFEST, ZooEntry, load_manifest, sha256_of
from partparse.models.weights import save_checkpoint
from partparse.run_layout import RunLayout

_DTYPES = {"float16": torch.float16, "float32": torch.float32}
#: an entry name: folders of letters, digits, ``_ . -`` separated by ``/`` (``syntps/ir-csn``), never ``..``
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")


def check_entry_name(name: str) -> str:
    """``name`` if it is a plain relative folder name inside the zoo, else :class:`InputError`."""
    if not _NAME.match(name) or ".." in name.split("/"):
        raise InputError(f"zoo entry name {name[:80]!r}: use folders of letters, digits, '_', '.', '-' "
                         "joined by '/' (e.g. syntps/ir-csn)")
    return name


def pack_run(run: str | Path, name: str, *, recipe: str, data: dict[str, Any], rebuild: list[str],
             metrics: dict[str, float], training: dict[str, Any], notes: str = "", dtype: str = "float16",
             root: Path | None = None, replace: bool = False) -> ZooEntry:
    """Copy ``run`` (a work dir or a ``.pth`` beside its ``recipe.yaml``) into the zoo as ``name``."""
    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    root = root or registry.zoo_root()
    entries, folder = _open_entry(name, root, replace)
    work, checkpoint = checkpoint_of(run)
    src, dst = RunLayout(work), RunLayout(folder)
    task = task_of(src.recipe)
    state = {k: (v.to(_DTYPES[dtype]) if v.is_floating_point() else v)
             for k, v in read_model_state(checkpoint).items()}
    save_checkpoint(dst.best, {"model": state})
    files = [dst.recipe.name, dst.best.name]
    shutil.copyfile(src.recipe, dst.recipe)
    for extra in ("label_spaces", "metrics"):  # class names; the learning curve (partparse curves)
        if getattr(src, extra).is_file():
            shutil.copyfile(getattr(src, extra), getattr(dst, extra))
            files.append(getattr(dst, extra).name)
    entry = ZooEntry(name=name, task=task, folder=name, files={f: sha256_of(folder / f) for f in sorted(files)},
                     recipe=recipe, data=data, rebuild=rebuild, metrics=metrics, training=training, dtype=dtype,
                     notes=notes)
    entries[name] = entry
    write_manifest(entries, root)
    return entry


def pack_file(path: str | Path, name: str, *, task: str, recipe: str, data: dict[str, Any], rebuild: list[str],
              metrics: dict[str, float], training: dict[str, Any], notes: str = "", root: Path | None = None,
              replace: bool = False) -> ZooEntry:
    """Add a single data file (e.g. a class-prior table) to the zoo as ``name``."""
    root = root or registry.zoo_root()
    entries, folder = _open_entry(name, root, replace)
    target = folder / Path(path).name
    shutil.copyfile(path, target)
    entries[name] = ZooEntry(name=name, task=task, folder=name, files={target.name: sha256_of(target)},
                             recipe=recipe, data=data, rebuild=rebuild, metrics=metrics, training=training,
                             dtype="", notes=notes)
    write_manifest(entries, root)
    return entries[name]


def _open_entry(name: str, root: Path, replace: bool) -> tuple[dict[str, ZooEntry], Path]:
    """The manifest's entries and the (created) folder of entry ``name``; an existing entry is refused unless
    ``replace``, and then its files are removed so that nothing of the old version stays beside the new."""
    check_entry_name(name)
    entries = load_manifest(root)
    folder = root / name
    if name in entries:
        if not replace:
            raise InputError(f"zoo:{name} exists (every version stays in git history; pass replace=True / --replace)")
        for file in entries[name].files:
            (root / entries[name].folder / file).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return entries, folder


def write_manifest(entries: dict[str, ZooEntry], root: Path) -> Path:
    body = {"version": 1, "models": {n: {k: v for k, v in asdict(e).items() if k != "name"}
                                     for n, e in sorted(entries.items())}}
    text = json.dumps(body, indent=2, sort_keys=False) + "\n"
    return atomic_write(root / MANIFEST, lambda fh: fh.write(text))

