"""The forked readers of `evaluate` (folder_tables) never outlive their parent (issue 13, item 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A parent whose readers take a second and then hand on tables far larger than a pipe holds: with the
# parent gone, a reader that kept a read end of its own pipe, or wrote its tables into it, would block
# for ever.
PARENT = """
import os, sys, time
from partparse.evaluation import folder_tables

def slow_and_big(folder):
    time.sleep(1.0)
    yield ["x" * 64] * 200_000

folder_tables.ground_truth_stages = folder_tables.submission_stages = slow_and_big
print(os.getpid(), flush=True)
folder_tables.read_tables(sys.argv[1], sys.argv[2])
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_readers_exit_when_the_parent_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        pid = int(proc.stdout.readline())
        deadline = time.monotonic() + 20
        while len(children := _children(pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(children) == 2, "the readers did not start"
        os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [c for c in children if _alive(c)]
    finally:
        proc.kill()
    for child in left:                  # (do not leave them behind when the test fails)
        os.kill(child, signal.SIGKILL)
    assert not left, f"readers {left} outlived their parent"


def test_no_room_for_the_readers_arrays_reads_in_this_process(tmp_path, monkeypatch):
    import numpy as np

    from partparse.evaluation import folder_tables
    from partparse.io import write_json
    from tests.oracle.random_tps import noisy_submission, random_ground_truth

    gv, gp = random_ground_truth(np.random.default_rng(1), n_videos=3, n_frames=2)
    pv, pp = noisy_submission(np.random.default_rng(2), gv, gp)
    for name, obj in (("gt/gt_vid_result.json", gv), ("gt/gt_part_result.json", gp),
                      ("pred/pred_vid_result.json", pv), ("pred/pred_part_result.json", pp)):
        write_json(tmp_path / name, obj)
    expected = folder_tables.read_tables(tmp_path / "gt", tmp_path / "pred", processes=False)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder_tables.tempfile, "TemporaryFile", full)
    tables = folder_tables.read_tables(tmp_path / "gt", tmp_path / "pred")
    assert tables is not None and tables[1].video_ids == expected[1].video_ids
    assert (tables[0].part_box == expected[0].part_box).all()
