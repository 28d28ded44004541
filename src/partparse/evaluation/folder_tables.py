"""Read a ground-truth folder and a submission folder into tables (:mod:`metric_tables`), each in a process
of its own; or say that they are not canonical, and leave them to the general walk.

At the size of the Kinetics-TPS test set the two part files hold ~20 M JSON values. Each folder is read
in a forked child: the part file is mapped (not copied) into memory and decoded by :mod:`part_file_decoder`
(msgspec for the nesting down to the humans, array operations for the parts, no Python object per part
or value). The children hand their tables on in stages: the humans, then the parts' boxes and states
(the submission's in a few pieces of consecutive videos), so that the parent assigns the humans
(:func:`table_join.join_humans`) while the children read on, and joins each piece of proposals while the
next is read (:class:`FolderReaders`, :class:`table_join.ProposalJoin`). A folder it refuses (a file
missing, malformed or not canonical) reads as ``None``, and :meth:`TPSEvaluator.from_folders` reads the
dicts (:func:`read_dicts`) for the general walk.
Only NumPy arrays (~170 MB) and a few lists come back, through a memory-mapped temporary file; the pipe
carries their offsets, and the children exit without freeing their objects. Children are forked, not
spawned: they start in milliseconds with NumPy already imported. Where fork is not available (or the
parent runs threads) both folders are read here, one stage at a time, when asked for.
A child holds no end of any pipe but its own write end, and is killed with its parent (Linux): if the
parent dies, the child's write fails or the child is gone, so no reader is left behind. Only regular
files are read (a FIFO would block the reader for ever).
See docs/benchmarks.md for the measurements behind these choices.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import mmap
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from partparse.data.tps_format import GT_PART_FILE, GT_VID_FILE, PRED_PART_FILE, PRED_VID_FILE
from partparse.evaluation.metric_tables import (
    GroundTruthHumans,
    GroundTruthParts,
    GroundTruthTables,
    NotCanonical,
    SubmissionHumans,
    SubmissionProposals,
    SubmissionTables,
)
from partparse.evaluation.part_file_decoder import decode_ground_truth_stages, decode_submission_stages
from partparse.io import InputError, check_regular_file, gc_paused, read_json


def read_ground_truth_tables(folder: str | os.PathLike) -> GroundTruthTables:
    """Tables of a GT folder; raises :class:`NotCanonical` (or :class:`InputError`) for the general walk."""
    return GroundTruthTables.combine(*ground_truth_stages(folder))


def read_submission_tables(folder: str | os.PathLike) -> SubmissionTables:
    """Tables of a submission folder; raises :class:`NotCanonical` (or :class:`InputError`) for the general walk."""
    return SubmissionTables.combine(*submission_stages(folder))


def ground_truth_stages(folder: str | os.PathLike) -> Iterator[GroundTruthHumans | GroundTruthParts]:
    """What a GT folder's reader hands on: its humans, then its parts' boxes and states
    (:func:`decode_ground_truth_stages`)."""
    folder = Path(folder)
    with gc_paused():
        gt_vid, part = read_json(folder / GT_VID_FILE), check_regular_file(folder / GT_PART_FILE)
        yield from decode_ground_truth_stages(gt_vid, _part_file_bytes(part))


def submission_stages(folder: str | os.PathLike) -> Iterator[SubmissionHumans | SubmissionProposals]:
    """What a submission folder's reader hands on: its humans, then its proposals
    (:func:`decode_submission_stages`)."""
    folder = Path(folder)
    with gc_paused():
        pred_vid, part = read_json(folder / PRED_VID_FILE), check_regular_file(folder / PRED_PART_FILE)
        yield from decode_submission_stages(pred_vid, _part_file_bytes(part))


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
    with FolderReaders(gt_folder, pred_folder, processes=processes) as readers:
        stages = []
        for stage in (readers.ground_truth_humans, readers.submission_humans, readers.ground_truth_parts,
                      readers.submission_proposals):
            stages.append(stage())
            if stages[-1] is None:
                return None
    gt_humans, humans, gt_parts, proposals = stages
    return GroundTruthTables.combine(gt_humans, gt_parts), SubmissionTables.combine(humans, proposals)


class FolderReaders:
    """The ground truth's and the submission's readers, started at once: each in a forked child where
    possible (else here, on demand, one after the other). Each hands its tables on in stages, as they
    are read: the humans (:meth:`ground_truth_humans`, :meth:`submission_humans`: ~60 % into the reading),
    then the parts' boxes and states (:meth:`ground_truth_parts`; the submission's in pieces,
    :meth:`submission_pieces`, or all at once, :meth:`submission_proposals`); each is
    ``None`` when its folder is not canonical (the general walk's case). A use of the humans (the human
    assignment) runs while the children read on. Use it as a context manager: leaving it stops a child
    still reading."""

    def __init__(self, gt_folder: str | os.PathLike, pred_folder: str | os.PathLike, processes: bool = True):
        # (looked up here, not bound at import: tests replace them)
        jobs = ((ground_truth_stages, Path(gt_folder)), (submission_stages, Path(pred_folder)))
        self._received: list[list] = [[] for _ in jobs]   # what each reader handed on so far
        self._finished = [False] * len(jobs)               # nothing more will come from it
        self._local: list | None = None                    # the stage generators, when reading here
        self._children: list[tuple] = []                   # (process, read end, spill file) per reader
        spills = None
        if processes and _can_fork():
            spill_dir = _spill_dir([folder for _, folder in jobs])
            try:                                 # (already unlinked: nothing to clean up)
                spills = [tempfile.TemporaryFile(dir=spill_dir) for _ in jobs]
            except OSError:                      # no room for the children's arrays: read here instead
                spills = None
        if spills is not None:
            try:
                self._fork(jobs, spills)
                return
            except BaseException as err:         # (stop the children started so far)
                self.close()
                if not isinstance(err, OSError):
                    raise
                self._finished = [False] * len(jobs)   # no fork now (out of memory, process limit): read here
        self._local = [stages(folder) for stages, folder in jobs]

    def _fork(self, jobs, spills) -> None:
        context = multiprocessing.get_context("fork")
        try:
            for (stages, folder), spill in zip(jobs, spills, strict=True):
                receive, send = context.Pipe(duplex=False)
                # the child closes every read end it inherits, its own included: with the parent gone, its
                # write then fails (EPIPE) instead of blocking for ever
                read_ends = [r for _, r, _ in self._children] + [receive]
                self._children.append((context.Process(target=_child, args=(send, spill, stages, folder, read_ends),
                                                       daemon=True), receive, spill))
                try:
                    self._children[-1][0].start()
                finally:
                    send.close()
        except BaseException:
            for spill in spills[len(self._children):]:
                spill.close()
            raise

    def __enter__(self) -> FolderReaders:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ground_truth_humans(self) -> GroundTruthHumans | None:
        return self._stage(0, 0)

    def ground_truth_parts(self) -> GroundTruthParts | None:
        return self._stage(0, 1)

    def submission_humans(self) -> SubmissionHumans | None:
        return self._stage(1, 0)

    def submission_proposals(self) -> SubmissionProposals | None:
        """All the submission's proposals (:meth:`submission_pieces` in one)."""
        pieces = list(self.submission_pieces())
        if not pieces or pieces[-1] is None:
            return None
        return pieces[0] if len(pieces) == 1 else SubmissionProposals.concatenate(pieces)

    def submission_pieces(self) -> Iterator[SubmissionProposals | None]:
        """The submission's proposals as they are read, in pieces of consecutive parts that together hold
        every part of :meth:`submission_humans`; ``None`` ends them when the folder was refused."""
        humans = self.submission_humans()
        if humans is None:
            yield None
            return
        parts, done = len(humans.part_name), 0
        for k in itertools.count(1):
            piece = self._stage(1, k)
            yield piece
            if piece is None:
                return
            done += len(piece.part_boxes)
            if done >= parts:
                return

    def close(self) -> None:
        """Stop and reap the children (a child that has handed everything on is exiting anyway)."""
        for child, receive, spill in self._children:
            receive.close()
            spill.close()
            if child.pid is None:                    # (never started)
                continue
            if child.is_alive():
                child.kill()
            child.join()
        self._children = []
        for stages in self._local or ():
            stages.close()
        self._finished = [True] * len(self._finished)          # (what was not received reads as refused)

    def _stage(self, reader: int, k: int):
        """Stage ``k`` of ``reader``'s tables; ``None`` when it, or a stage before it, was refused."""
        received = self._received[reader]
        while len(received) <= k and not self._finished[reader]:
            if self._local is not None:
                self._read_here(reader)
            else:
                self._wait()
        for tables in received[:k + 1]:
            if isinstance(tables, BaseException):
                raise tables
        if len(received) <= k or any(tables is None for tables in received[:k + 1]):
            return None
        return received[k]

    def _read_here(self, reader: int) -> None:
        try:
            self._received[reader].append(next(self._local[reader]))
        except StopIteration:
            self._finished[reader] = True
        except (NotCanonical, InputError):
            self._received[reader].append(None)
            self._finished[reader] = True

    def _wait(self) -> None:
        """Receive whatever the children have sent (a message is a few bytes: a child never waits for us)."""
        pending = {receive: k for k, (_, receive, _) in enumerate(self._children) if not self._finished[k]}
        for receive in multiprocessing.connection.wait(list(pending)):
            k = pending[receive]
            message = _receive(receive, self._children[k][2])
            if message is _END:
                self._finished[k] = True
            else:
                self._received[k].append(message)
                if message is None or isinstance(message, BaseException):
                    self._finished[k] = True


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


def _child(send, spill, stages, folder: Path, read_ends: list) -> None:
    """Read one folder and hand each stage's tables on (:func:`_send`); a refused folder hands on ``None``,
    a bug the exception (the parent raises it). Exit without freeing the parsed JSON (about a second).
    ``read_ends``: the parent's ends of the pipes, which the fork copied here; closed first thing."""
    for end in read_ends:
        end.close()
    _die_with_parent()
    gc.disable()
    _reuse_freed_memory()
    try:
        try:
            for tables in stages(folder):
                _send(send, spill, tables)
        except (NotCanonical, InputError):
            _send(send, spill, None)
        except Exception as err:  # a bug, not the data: the parent re-raises it
            _send(send, spill, err)
    finally:
        os._exit(0)


def _send(send, spill, result) -> None:
    """Write ``result`` pickled to the ``spill`` file, its arrays as pickle protocol 5 buffers (no copy
    here, one ``mmap`` in the parent; a pipe moves ~100 MB several times slower), each at an offset
    aligned for any dtype; then send their offsets through the pipe: a few bytes, so the child never
    waits for the parent to read."""
    buffers = []
    header = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    places = []
    for raw in [memoryview(header)] + [buffer.raw() for buffer in buffers]:
        spill.write(bytes(-spill.tell() % _ALIGN))
        places.append((spill.tell(), raw.nbytes))
        spill.write(raw)
    spill.flush()
    send.send(places)


_ALIGN = 64


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


_END = object()  # a child's pipe closed: it has handed on all it will


def _receive(receive, spill):
    """The next tables a child sent, or :data:`_END` when it has exited (done, or died: out of memory,
    killed; then the stages it did not send read as refused, and the general walk scores the files)."""
    try:
        places = receive.recv()
    except EOFError:
        return _END
    # a private mapping: the arrays are writable, and writes never reach the file (no MAP_POPULATE here:
    # on a writable private mapping it copies every page)
    data = memoryview(mmap.mmap(spill.fileno(), 0, access=mmap.ACCESS_COPY))
    (start, size), *arrays = places
    buffers = [bytearray(0) if n == 0 else data[o:o + n] for o, n in arrays]
    return pickle.loads(data[start:start + size], buffers=buffers)
