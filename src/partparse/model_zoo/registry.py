"""Read the zoo's manifest and resolve ``zoo:<name>`` to a verified entry folder."""

from __future__ import annotations

import hashlib
import importlib.resources
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from partparse.io import InputError, read_json

ZOO_PREFIX = "zoo:"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ZooEntry:
    """One manifest entry. ``files``: file name -> sha256 (hex) inside ``folder`` (relative to the zoo);
    ``rebuild``: the shell commands that rebuild it, in order (data, training, packing); ``metrics``: its
    validation metrics on the SynTPS benchmark; ``training``: seconds, steps, threads and machine."""

    name: str
    task: str
    folder: str
    files: dict[str, str]
    recipe: str
    data: dict[str, Any] = field(default_factory=dict)
    rebuild: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float16"
    notes: str = ""


def zoo_root() -> Path:
    """The folder of the zoo inside the installed package."""
    return Path(str(importlib.resources.files("partparse") / "model_zoo"))


def is_zoo_name(value: object) -> bool:
    return isinstance(value, str) and value.startswith(ZOO_PREFIX)


def load_manifest(root: Path | None = None) -> dict[str, ZooEntry]:
    """``{name: entry}`` of the manifest (an empty zoo when the file is absent)."""
    path = (root or zoo_root()) / MANIFEST
    if not path.is_file():
        return {}
    raw = read_json(path)                      # malformed JSON: a one-line InputError naming the file
    try:
        return {name: ZooEntry(name=name, **fields) for name, fields in raw["models"].items()}
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{path}: malformed zoo manifest ({type(err).__name__}: {err})") from None


#: ``(resolved path, inode, mtime_ns, ctime_ns, size) -> sha256`` of the files :func:`resolve` checked:
#: a process hashes each zoo file once (a parse recipe resolves an entry several times: weights, recipe,
#: class names; hashing the zoo took about 0.3 s a resolve). A file rewritten in place gets a new key.
_DIGESTS: dict[tuple, str] = {}
#: Files modified less than this many seconds ago are always hashed again (as git treats "racily
#: clean" files): a rewrite within the file system's timestamp granularity keeps the same mtime.
_SETTLED_S = 2.0


def verified_sha256(path: Path) -> str:
    """:func:`sha256_of`, remembered for the process while the file is unchanged."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = sha256_of(path)
    if time.time() - max(stat.st_mtime, stat.st_ctime) > _SETTLED_S:
        _DIGESTS[key] = digest
    return digest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(name: str, root: Path | None = None) -> Path:
    """The entry folder of ``zoo:<name>`` (or ``<name>``) after checking the sha256 of each of its files.

    A name not in the manifest, a missing file or a checksum mismatch raises a one-line
    :class:`InputError` naming the entry and the file.
    """
    key = name[len(ZOO_PREFIX):] if is_zoo_name(name) else name
    root = root or zoo_root()
    entries = load_manifest(root)
    if key not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise InputError(f"{ZOO_PREFIX}{key}: not in the model zoo (known: {known})")
    entry = entries[key]
    folder = root / entry.folder
    for file, expected in entry.files.items():
        path = folder / file
        if not path.is_file():
            raise InputError(f"{ZOO_PREFIX}{key}: {path} is missing (reinstall partparse, or rebuild the entry: "
                             f"partparse zoo show {key})")
        if verified_sha256(path) != expected:
            raise InputError(f"{ZOO_PREFIX}{key}: {path} is corrupt (sha256 differs from the manifest)")
    return folder
