"""Property tests of the Kinetics-TPS metric: the fast evaluator against the loop-based oracle."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partparse.evaluation.tps_metric import TPSEvaluator, evaluate_tps
from tests.oracle.random_tps import noisy_submission, perfect_submission, random_ground_truth
from tests.oracle.tps_reference import reference_score, video_scores

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THRESHOLDS = st.sampled_from([(0.5, 0.3), (0.001, 0.001), (0.3, 0.5), (0.9, 0.9), (0.99, 0.99), (0.5, 0.0)])


def _case(seed: int, n_videos: int = 8, **noise):
    rng = np.random.default_rng(seed)
    gv, gp = random_ground_truth(rng, n_videos=n_videos, n_frames=int(rng.integers(1, 6)),
                                 max_humans=int(rng.integers(1, 6)))
    pv, pp = noisy_submission(rng, gv, gp, **noise)
    return gv, gp, pv, pp


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), thr=THRESHOLDS, corrected=st.booleans(),
       noise=st.floats(0.0, 20.0), integer=st.booleans())
def test_fast_equals_reference(seed, thr, corrected, noise, integer):
    gv, gp, pv, pp = _case(seed, box_noise=noise, integer=integer)
    matching = "corrected" if corrected else "official"
    fast = evaluate_tps(gv, gp, pv, pp, *thr, matching=matching)
    ref = video_scores(gv, gp, pv, pp, *thr, corrected=corrected)
    assert fast.psc.tolist() == [psc for _, psc, _ in ref]          # bit-identical PSCs
    assert fast.score == reference_score(gv, gp, pv, pp, *thr, corrected=corrected)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_perfect_predictions_score_100(seed):
    gv, gp = random_ground_truth(np.random.default_rng(seed), n_videos=6, n_frames=4)
    result = evaluate_tps(gv, gp, *perfect_submission(gv, gp))
    assert abs(result.score - 0.9999) < 1e-12
    assert result.video_accuracy == 1.0 and np.all(result.psc == 1.0)


def _shuffled(d: dict, rng) -> dict:
    keys = list(d)
    rng.shuffle(keys)
    return {k: d[k] for k in keys}


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffling_videos_or_persons_changes_nothing(seed):
    # One proposal per part and no duplicate boxes: every part scores 0 or 1, so sums are exact in any
    # order and the assignment has no ties; then the order of videos and persons cannot matter.
    gv, gp, pv, pp = _case(seed, max_proposals=1, duplicate_prob=0.0, false_positives=0)
    base = evaluate_tps(gv, gp, pv, pp)
    rng = np.random.default_rng(seed + 1)
    gp2, pp2 = copy.deepcopy(gp), copy.deepcopy(pp)
    for table in (gp2, pp2):
        for frames in table.values():
            for frame in frames.values():
                rng.shuffle(frame["humans"])
    shuffled = evaluate_tps(_shuffled(gv, rng), _shuffled(gp2, rng), _shuffled(pv, rng), _shuffled(pp2, rng))
    assert shuffled.score == base.score
    assert dict(zip(shuffled.video_ids, shuffled.psc, strict=True)) == dict(zip(base.video_ids, base.psc, strict=True))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), pick=st.integers(0, 10**6))
def test_shrinking_a_part_box_loses_exactly_that_hit(seed, pick):
    gv, gp = random_ground_truth(np.random.default_rng(seed), n_videos=4, n_frames=3, empty_prob=0.0)
    pv, pp = perfect_submission(gv, gp)
    before = TPSEvaluator(gv, gp, pv, pp).flat
    score_before, _ = before.part_scores(0.5, 0.3)
    k = pick % len(before.part_name)
    vid, key, person, name = before.part_where(k)
    box = pp[vid][key]["humans"][person]["parts"][name]["box"][0]
    x1, y1, x2, y2 = box
    # shrink to the top-left corner: area ratio 1/(w*h) of the GT part, far below 0.3 for boxes >= 2x2
    w, h = x2 - x1 + 1, y2 - y1 + 1
    pp[vid][key]["humans"][person]["parts"][name]["box"][0] = [x1, y1, x1 + max(0, w // 3 - 1), y1 + max(0, h // 3 - 1)]
    after = TPSEvaluator(gv, gp, pv, pp).flat
    score_after, _ = after.part_scores(0.5, 0.3)
    changed = np.flatnonzero(score_before != score_after)
    assert changed.tolist() == [k]
    assert score_before[k] == 1.0 and score_after[k] == 0.0
    psc_b, psc_a = before.video_psc(0.5, 0.3), after.video_psc(0.5, 0.3)
    assert np.flatnonzero(psc_b != psc_a).tolist() == [before.video_ids.index(vid)]
    assert psc_a[before.video_ids.index(vid)] < 1.0


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_part_state_accuracy_equals_a_plain_count(seed):
    from collections import Counter

    from partparse.data.part_labels import majority_state, video_part_states
    from partparse.data.vocabulary import coarse_part
    from partparse.evaluation.part_state_accuracy import part_state_accuracy

    gv, gp, pv, pp = _case(seed, state_acc=0.6)
    ev = TPSEvaluator(gv, gp, pv, pp)
    fast = part_state_accuracy(gp, ev.flat, 0.5)
    f = ev.flat
    matched = f.human_matched(0.5)[f.part_human]
    counts: dict = {}
    for k in range(len(f.part_name)):
        if matched[k] and f.part_top_state[k] is not None:
            key = (f.video_ids[f.part_video[k]], coarse_part(f.part_name[k]))
            counts.setdefault(key, Counter())[f.part_top_state[k]] += 1
    hits: dict = {}
    for vid in gv:
        for coarse, state in video_part_states(gp[vid]).items():
            hits.setdefault(coarse, []).append(majority_state(counts.get((vid, coarse), Counter())) == state)
    assert fast == {**{c: float(np.mean(h)) for c, h in hits.items()},
                    "mean": float(np.mean([x for h in hits.values() for x in h]))}
