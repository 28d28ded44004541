"""How sure is a step of Table 1? A paired bootstrap over the videos.

Two rows parse the same videos, so their difference is measured pair-wise: resample the videos with
replacement, score both rows on the same resample with the official area under the accuracy-PSC curve,
and read the interval off the differences. On 40 videos one video is 2.5 points of action accuracy, and a
step whose interval spans 0 is within noise.
"""

from __future__ import annotations

import numpy as np

from partparse.evaluation.tps_metric import CURVE_STEPS, TPSResult


def video_contributions(result: TPSResult, steps: int = CURVE_STEPS) -> np.ndarray:
    """Each video's share of the score: the official area is a sum over PSC thresholds ``k / steps`` of
    the fraction of videos with the right action and ``PSC >= k / steps``, so a video adds
    ``#{k in 1..steps-1 : k / steps <= PSC} / steps`` when its action is right (their mean is the score,
    up to float rounding at thresholds the PSC hits exactly)."""
    counts = np.clip(np.floor(np.asarray(result.psc, np.float64) * steps + 1e-9), 0, steps - 1)
    return np.where(np.asarray(result.action_correct, bool), counts / steps, 0.0)


def score_difference_interval(before: TPSResult, after: TPSResult, resamples: int = 2000, level: float = 0.95,
                              seed: int = 0) -> tuple[float, float]:
    """The ``level`` percentile interval of ``score(after) - score(before)`` over ``resamples`` paired
    resamples of the videos (both results must cover the same videos in the same order)."""
    if list(before.video_ids) != list(after.video_ids):
        raise ValueError("the two results cover different videos")
    diff = video_contributions(after) - video_contributions(before)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(diff), (resamples, len(diff)))
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(diff[picks].mean(axis=1), [tail, 100 - tail])
    return float(lo), float(hi)
