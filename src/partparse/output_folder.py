"""One policy for every folder a command writes into (``--out``).

* ``--out`` naming an existing file (or anything but a folder) is refused;
* a folder that is not empty is refused unless ``force``: a second run must not mix its files with a
  previous run's or replace finished results silently;
* with ``force``, what the previous run of the same command wrote (``owned``, paths relative to the
  folder) is removed first, and only that: other files in the folder are left alone;
* the folder is created and a file is written and removed in it before any work starts, so a read-only
  folder fails at once, not after an hour of work.

Every refusal is an :class:`~partparse.io.InputError` whose one line names the folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from partparse.io import InputError, write_error


def check_output_folder(out: str | os.PathLike, force: bool) -> Path:
    """Refuse ``out`` if it is not a folder, or a non-empty folder without ``force``; changes nothing."""
    out = Path(out)
    if not (out.exists() or out.is_symlink()):
        return out
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    try:
        empty = next(os.scandir(out), None) is None
    except OSError as err:
        raise InputError(f"{out}: cannot read the folder: {err.strerror or err}") from None
    if not empty and not force:
        raise InputError(f"{out}: folder is not empty (use --force to replace what a previous run wrote there)")
    return out


def clear_owned(out: str | os.PathLike, owned: Iterable[str]) -> None:
    """Remove the paths ``owned`` (relative to ``out``) that exist: files, links and whole folders.
    Folders left empty on the way to them are removed too (``list/`` once its files are gone)."""
    out = Path(out)
    root = out.resolve()
    for rel in owned:
        path = out / rel
        if not path.parent.resolve().is_relative_to(root):   # a linked folder on the way: not ours to clear
            raise InputError(f"{path}: lies outside {out} (through a symbolic link); not removing it")
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            parent = path.parent
            while parent != out and parent.is_dir() and next(os.scandir(parent), None) is None:
                parent.rmdir()
                parent = parent.parent
        except OSError as err:
            raise InputError(f"{path}: cannot remove the previous run's output: {err.strerror or err}") from None


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) and write a file in it; :class:`InputError` if either fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder) as fh:
            fh.write(b"partparse")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        raise write_error(folder, err) from None
    return folder


def prepare_output_folder(out: str | os.PathLike, force: bool, owned: Iterable[str]) -> Path:
    """The whole policy for one process: :func:`check_output_folder`, then with ``force``
    :func:`clear_owned`, then :func:`check_writable`. Returns ``out`` as a Path."""
    out = check_output_folder(out, force)
    if force and out.is_dir():
        clear_owned(out, owned)
    return check_writable(out)
