"""The CLI's one error boundary: expected errors of any command are one line + exit 2; Ctrl-C is 130;
bugs keep their traceback."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from partparse.cli import app, one_line
from partparse.io import InputError


def _failing_fuse(monkeypatch, exc: BaseException) -> None:
    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr("partparse.cli.fuse.search_head_weights", boom)


@pytest.mark.parametrize("exc, line", [
    (InputError("a.npz: broken\nsecond line"), "error: a.npz: broken second line"),
    (OSError(errno.ENOSPC, "No space left on device", "/out/x.json"), "error: /out/x.json: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "/out"), "error: /out: Permission denied"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/out/r.yaml"), "error: /out/r.yaml: Is a directory"),
])
def test_expected_errors_are_one_line_with_exit_2(monkeypatch, tmp_path, exc, line):
    _failing_fuse(monkeypatch, exc)
    res = CliRunner().invoke(app, ["fuse", "a.npz", "b.npz"])
    assert res.exit_code == 2 and res.stderr == line + "\n"


def test_ctrl_c_exits_130_and_bugs_keep_their_traceback(monkeypatch):
    _failing_fuse(monkeypatch, KeyboardInterrupt())
    assert CliRunner().invoke(app, ["fuse", "a.npz", "b.npz"]).exit_code == 130
    _failing_fuse(monkeypatch, ZeroDivisionError("a bug"))
    res = CliRunner().invoke(app, ["fuse", "a.npz", "b.npz"])
    assert res.exit_code == 1 and isinstance(res.exception, ZeroDivisionError)


def test_messages_are_bounded_and_worker_tracebacks_reduced():
    assert len(one_line("x" * 100_000)) == 1000
    worker = ("Caught InputError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
              '  File "worker.py", line 1, in _worker_loop\n    data = fetcher.fetch(index)\n'
              "partparse.io.InputError: v.mp4: cannot decode the video\n")
    assert one_line(worker) == "v.mp4: cannot decode the video"


def test_the_installed_entry_point_prints_one_line(tmp_path):
    bad = tmp_path / "bomb.yaml"
    bad.write_text("a: &a [1, 2]\nb: [*a, *a]\n")
    proc = subprocess.run([sys.executable, "-m", "partparse.cli", "train", "--recipe", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: {bad}: malformed YAML at line 1 column 4: anchors and aliases "
                                        "(&name, *name) are not allowed in recipes"]
