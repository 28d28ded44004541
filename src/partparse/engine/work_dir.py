"""A training run's work dir: what a run writes there, and the rules before writing into one.

A work dir holding a run is never silently reused: a new ``partparse train`` into it is refused unless
it continues the run (``--resume``) or starts it again (``--force``, which first removes the old run's
files, so ``metrics.jsonl`` is not appended to and an old ``best.pth`` cannot outlive the new run).
Files that are not a run's are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from partparse.io import InputError
from partparse.run_layout import RunLayout

#: Files ``partparse train`` (and ``partparse demo``) write into a work dir, besides ``epoch_NNN.pth``.
RUN_FILES = tuple(p.name for p in RunLayout(Path()).run_files())


def run_files(work: Path) -> list[Path]:
    """The files of a training run in ``work`` (empty when there is none), atomic-write leftovers included."""
    if not work.is_dir():
        return []
    found = [work / name for name in RUN_FILES if (work / name).exists()]
    found += sorted(work.glob("epoch_*.pth"))
    found += sorted(p for name in RUN_FILES + ("epoch_",) for p in work.glob(f".{name}*.tmp"))
    return found


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def writable(folder: Path) -> bool:
    """Whether this process may create files in ``folder``."""
    return os.access(folder, os.W_OK | os.X_OK)


def check_work_dir(work: Path, resume: bool, force: bool) -> None:
    """Refuse, before anything is read or written, a work dir that cannot hold a new run.

    An existing file, a folder that cannot be created or written, or (without ``resume`` or ``force``)
    a folder that already holds a run raise an :class:`InputError` naming ``train.work_dir``.
    """
    if work.exists() and not work.is_dir():
        raise InputError(f"train.work_dir {work}: exists and is not a folder")
    base = _nearest_existing(work)
    if not base.is_dir():
        raise InputError(f"train.work_dir {work}: {base} is not a folder")
    if not writable(base):
        raise InputError(f"train.work_dir {work}: {base} is not writable")
    if resume or force:
        return
    found = run_files(work)
    if found:
        names = ", ".join(p.name for p in found[:3]) + (", ..." if len(found) > 3 else "")
        raise InputError(f"train.work_dir {work}: holds a training run ({names}); --resume continues it, "
                         "--force starts it again (removing its files)")


def clear_run(work: Path) -> list[Path]:
    """Remove the files of the run in ``work`` (``--force``); other files stay. Returns what was removed."""
    removed = run_files(work)
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
