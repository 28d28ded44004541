"""The assignment solver loaded without ``scipy.optimize`` is SciPy's own ``linear_sum_assignment``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from partparse.evaluation.human_assignment import load_solver

ROOT = Path(__file__).resolve().parents[2]


def test_the_solver_gives_scipys_assignment_ties_included():
    from scipy.optimize import linear_sum_assignment

    solve = load_solver()
    rng = np.random.default_rng(0)
    for n in range(1, 11):
        for _ in range(20):
            cost = rng.integers(0, 3, size=(n, n)).astype(np.float64)     # many ties: tie-breaking shows
            ours, theirs = solve(cost), linear_sum_assignment(cost)
            assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_loading_the_solver_does_not_import_scipy_optimize():
    code = ("import sys\nfrom partparse.evaluation.human_assignment import load_solver\n"
            "solve = load_solver()\nprint(solve.__name__, 'scipy.optimize' in sys.modules)\n"
            "import scipy.optimize\nprint(scipy.optimize.linear_sum_assignment is solve)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["linear_sum_assignment", "False", "True"]
