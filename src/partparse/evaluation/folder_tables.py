"""Read a ground-truth folder and a submission folder into tables (:mod:`metric_tables`), each in a process
of its own; or say that they are not canonical, and leave them to the general walk.

At the size of the Kinetics-TPS test set the two part files hold ~20 M JSON values. Each folder is read
in a forked child: the part file is mapped (not copied) into memory and decoded by :mod:`part_file_decoder`
(msgspec for the nesting, array operations for boxes and states, no Python object per value). A folder
it refuses (a file missing, malformed or not canonical) makes :func:`read_tables` return ``None``, and
:meth:`TPSEvaluator.from_folders` reads the dicts (:func:`read_dicts`) for the general walk. Only NumPy arrays
(~170 MB) come back, through a memory-mapped temporary file; the children exit without freeing their
objects. Children are forked, not spawned: they start in milliseconds with NumPy already imported. Where
fork is not available (or the parent runs threads) both folders are read here, one after the other.
A child holds no end of any pipe but its own write end, and is killed with its parent (Linux): if the
parent dies, the child's write fails or the child is gone, so no reader is left behind. Only regular
files are read (a FIFO would block the reader for ever).
See docs/benchmarks.md for the measurements behind these choices.
"""

from __future__ import annotations

import ctypes
import gc
import mmap
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import tempfile
import threading
from pathlib import Path

import numpy as np

from partparse.data.tps_format import GT_PART_FILE, GT_VID_FILE, PRED_PART_FILE, PRED_VID_FILE
from partparse.evaluation.metric_tables import GroundTruthTables, NotCanonical, SubmissionTables
from partparse.evaluation.part_file_decoder import decode_ground_truth, decode_submission
from partparse.io import InputError, check_regular_file, gc_paused, read_json


def read_ground_truth_tables(folder: str | os.PathLike) -> GroundTruthTables:
    """Tables of a GT folder; raises :class:`NotCanonical` (or :class:`InputError`) for the general walk."""
    folder = Path(folder)
    with gc_paused():
        gt_vid, part = read_json(folder / GT_VID_FILE), check_regular_file(folder / GT_PART_FILE)
        return decode_ground_truth(gt_vid, _part_file_bytes(part))


def read_submission_tables(folder: str | os.PathLike) -> SubmissionTables:
    """Tables of a submission folder; raises :class:`NotCanonical` (or :class:`InputError`) for the general walk."""
    folder = Path(folder)
    with gc_paused():
        pred_vid, part = read_json(folder / PRED_VID_FILE), check_regular_file(folder / PRED_PART_FILE)
        return decode_submission(pred_vid, _part_file_bytes(part))


def read_dicts(folder: str | os.PathLike, vid_name: str, part_name: str) -> tuple[dict, dict]:
    """The two files of a folder as dicts, for the general walk (one-line :class:`InputError` otherwise)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    vid, part = read_json(folder / vid_name), read_json(folder / part_name)
    for name, obj in ((vid_name, vid), (part_name, part)):
        if not isinstance(obj, dict):
            raise InputError(f"{folder / name}: expected a JSON object keyed by video id, got {type(obj).__name__}")
    return vid, part


def _part_file_bytes(path: Path):
    """:func:`_file_bytes`; a file that cannot be mapped is not canonical (the general walk reads it)."""
    try:
        return _file_bytes(path)
    except OSError as err:
        raise NotCanonical(f"{path}: {err}") from None


def _file_bytes(path: Path):
    """The bytes of ``path``, mapped read-only rather than read into a fresh buffer (~25 k page faults
    for 100 MB, a third of a second here); on Linux every page is mapped in by one call
    (``MAP_POPULATE``), not one fault per page. The mapping closes with its last view (``msgspec.Raw``)."""
    with open(path, "rb") as fh:
        if not os.fstat(fh.fileno()).st_size:
            return b""                                       # (an empty file cannot be mapped)
        if not hasattr(mmap, "MAP_POPULATE"):
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return mmap.mmap(fh.fileno(), 0, flags=mmap.MAP_PRIVATE | mmap.MAP_POPULATE, prot=mmap.PROT_READ)


def read_tables(gt_folder: str | os.PathLike, pred_folder: str | os.PathLike,
                processes: bool = True) -> tuple[GroundTruthTables, SubmissionTables] | None:
    """Both folders as tables, or ``None`` when a file is missing, malformed or not in the canonical form:
    :meth:`TPSEvaluator.from_folders` then reads the dicts and scores them with the general walk, which
    reports the problem as the official script meets it (or scores what the official script scores)."""
    jobs = ((read_ground_truth_tables, Path(gt_folder)), (read_submission_tables, Path(pred_folder)))
    spill_dir = _spill_dir([folder for _, folder in jobs]) if processes and _can_fork() else None
    try:                                     # (already unlinked: nothing to clean up)
        spills = [tempfile.TemporaryFile(dir=spill_dir) for _ in jobs] if processes and _can_fork() else None
    except OSError:                          # no room for the children's arrays: read here instead
        spills = None
    if spills is None:
        try:
            return tuple(read(folder) for read, folder in jobs)
        except (NotCanonical, InputError):
            return None
    context = multiprocessing.get_context("fork")
    children = []
    try:
        for (read, folder), spill in zip(jobs, spills, strict=True):
            receive, send = context.Pipe(duplex=False)
            # the child closes every read end it inherits, its own included: with the parent gone, its
            # write then fails (EPIPE) instead of blocking for ever on a full pipe
            read_ends = [r for _, r, _ in children] + [receive]
            child = context.Process(target=_child, args=(send, spill, read, folder, read_ends), daemon=True)
            child.start()
            send.close()
            children.append((child, receive, spill))
        results = _results(children)
    finally:
        for spill in spills[len(children):]:
            spill.close()
        for child, receive, spill in children:
            receive.close()
            spill.close()
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return None if any(r is None for r in results) else tuple(results)


def _results(children: list) -> list:
    """The children's results, in their order."""
    results = [None] * len(children)
    pending = {receive: k for k, (_, receive, _) in enumerate(children)}
    while pending:
        for receive in multiprocessing.connection.wait(list(pending)):
            k = pending.pop(receive)
            results[k] = _receive(receive, children[k][2])
    return results


def _can_fork() -> bool:
    # forking a threaded parent can deadlock the child on a lock held by another thread
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _spill_dir(folders: list[Path]) -> str | None:
    """Where the children write their arrays: ``/dev/shm`` (memory) when it has room for about twice
    the JSON files (the tables are smaller), else the default temporary folder."""
    try:
        need = 2 * sum(f.stat().st_size for folder in folders for f in folder.glob("*.json"))
        shm = os.statvfs("/dev/shm")
        return "/dev/shm" if shm.f_bavail * shm.f_frsize > need else None
    except OSError:
        return None


def _child(send, spill, read, folder: Path, read_ends: list) -> None:
    """Read one folder; send the pickled tables' header through the pipe and their array data through
    the ``spill`` file (pickle protocol 5 buffers: no copy here, one ``mmap`` in the parent; a pipe
    moves ~100 MB several times slower). Exit without freeing the parsed JSON (about a second).
    ``read_ends``: the parent's ends of the pipes, which the fork copied here; closed first thing."""
    for end in read_ends:
        end.close()
    _die_with_parent()
    gc.disable()
    _reuse_freed_memory()
    try:
        result = read(folder)
    except (NotCanonical, InputError):
        result = None
    except Exception as err:  # a bug, not the data: the parent re-raises it
        result = err
    try:
        buffers = []
        header = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
        sizes = []
        for buffer in buffers:
            raw = buffer.raw()
            spill.write(raw)
            sizes.append(raw.nbytes)
        spill.flush()
        send.send((header, sizes))
    finally:
        os._exit(0)


def _die_with_parent() -> None:
    """Ask Linux to kill this child when its parent dies (``PR_SET_PDEATHSIG``); elsewhere the closed read
    ends do it (the child's next write fails). If the parent died before the request, exit now."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os._exit(0)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _reuse_freed_memory() -> None:
    """Ask glibc to keep the memory a child frees for its next allocations instead of returning it to
    the system: the chunked array work of :mod:`json_leaves` then reuses the same pages, where each
    fresh one costs a page fault (~60 k fewer faults, 0.2-0.4 s, for a test-set file). Only in the
    short-lived children, which exit with ``os._exit``; elsewhere (no glibc) nothing changes."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)       # glibc's largest


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def _receive(receive, spill):
    try:
        header, sizes = receive.recv()
    except EOFError:  # the child died (out of memory, killed, no room for its tables): read here instead
        return None
    # a private mapping: the arrays are writable, and writes never reach the file (no MAP_POPULATE here:
    # on a writable private mapping it copies every page)
    data = memoryview(mmap.mmap(spill.fileno(), 0, access=mmap.ACCESS_COPY)) if sum(sizes) else memoryview(b"")
    offsets = np.cumsum([0] + sizes).tolist()
    buffers = [bytearray(0) if n == 0 else data[o:o + n] for o, n in zip(offsets[:-1], sizes, strict=True)]
    return pickle.loads(header, buffers=buffers)
