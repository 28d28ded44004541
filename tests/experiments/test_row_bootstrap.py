"""The paired bootstrap that says whether a step of Table 1 is more than noise."""

from __future__ import annotations

import numpy as np
import pytest

from partparse.evaluation.tps_metric import TPSResult, area_under_curve
from partparse.experiments.row_bootstrap import score_difference_interval, video_contributions


def _result(psc, correct) -> TPSResult:
    psc, correct = np.asarray(psc, float), np.asarray(correct, bool)
    return TPSResult(area_under_curve(psc, correct), 0.5, 0.3, "official", [f"v{i}" for i in range(len(psc))],
                     psc, correct)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contributions_add_up_to_the_official_score(seed):
    rng = np.random.default_rng(seed)
    r = _result(np.round(rng.random(57), 4), rng.random(57) < 0.6)
    assert video_contributions(r).mean() == pytest.approx(r.score, abs=1e-9)
    assert np.all(video_contributions(r)[~r.action_correct] == 0.0)


def test_interval_brackets_a_uniform_gain_and_is_zero_for_the_same_row():
    rng = np.random.default_rng(3)
    a = _result(rng.random(40) * 0.8, rng.random(40) < 0.7)
    b = _result(a.psc + 0.1, a.action_correct)          # every right video gains 0.1 PSC
    lo, hi = score_difference_interval(a, b)
    assert 0 < lo <= b.score - a.score <= hi < 0.1
    assert score_difference_interval(a, a) == (0.0, 0.0)


def test_noise_gives_an_interval_across_zero():
    rng = np.random.default_rng(4)
    a = _result(rng.random(40), rng.random(40) < 0.7)
    b = _result(rng.permutation(a.psc), a.action_correct)  # same PSCs, dealt to other videos
    lo, hi = score_difference_interval(a, b)
    assert lo < 0 < hi


def test_rows_over_other_videos_are_refused():
    a = _result([0.5, 0.6], [True, True])
    b = TPSResult(0.0, 0.5, 0.3, "official", ["x", "y"], np.array([0.5, 0.6]), np.array([True, True]))
    with pytest.raises(ValueError, match="different videos"):
        score_difference_interval(a, b)
