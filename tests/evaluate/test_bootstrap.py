from __future__ import annotations

import numpy as np
import pytest

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.bootstrap import bootstrap_intervals, percentile_interval, resample_weights
from bonefrac.evaluate.evaluator import DetectionEvaluator


def _prepared(preds, truths, names=("c0", "c1")):
    evaluator = DetectionEvaluator(names)
    for p, t in zip(preds, truths, strict=True):
        evaluator.process(p, t)
    return evaluator.evaluate()


def test_resample_weights_are_counts_that_sum_to_n():
    w = resample_weights(50, 30, seed=3)
    assert w.shape == (30, 50) and (w.sum(axis=1) == 50).all() and (w >= 0).all()


def test_bootstrap_is_deterministic_for_a_seed(random_case):
    prepared = _prepared(*random_case(2, n_images=30))

    def compute(w):
        return prepared.metrics(w, 0.3)

    first = bootstrap_intervals(compute, prepared.n_images, 120, seed=7)
    again = bootstrap_intervals(compute, prepared.n_images, 120, seed=7)
    other = bootstrap_intervals(compute, prepared.n_images, 120, seed=8)
    assert first == again
    assert first["box.map50"] != other["box.map50"]


def test_bootstrap_interval_contains_point_estimate(random_case):
    prepared = _prepared(*random_case(4, n_images=40))
    point = prepared.metrics(np.ones((1, prepared.n_images)), 0.3)
    ci = bootstrap_intervals(lambda w: prepared.metrics(w, 0.3), prepared.n_images, 300, seed=0)
    for key in ("box.map50", "box.map50_95", "image.auroc", "froc.score", "box.recall"):
        low, high = ci[key]
        assert low <= float(point[key][0]) <= high, key
        assert high > low, key


def test_bootstrap_chunks_give_the_same_result_as_one_batch(random_case, monkeypatch):
    from bonefrac.evaluate import bootstrap

    prepared = _prepared(*random_case(5, n_images=20))

    def compute(w):
        return prepared.metrics(w, 0.3)

    whole = bootstrap_intervals(compute, prepared.n_images, 50, seed=1)
    monkeypatch.setattr(bootstrap, "CHUNK_ROWS", 7)
    chunked = bootstrap_intervals(compute, prepared.n_images, 50, seed=1)
    assert whole == chunked


def test_percentile_interval_ignores_nan_and_handles_none():
    assert percentile_interval(np.array([np.nan, np.nan])) is None
    low, high = percentile_interval(np.r_[np.arange(101.0), np.nan])
    assert (low, high) == pytest.approx((2.5, 97.5))


@pytest.mark.parametrize(("n", "resamples"), [(0, 10), (10, 0)])
def test_resample_weights_rejects_bad_sizes(n, resamples):
    with pytest.raises(EvaluationError):
        resample_weights(n, resamples, 0)


def test_bootstrap_within_resamples_only_those_images(random_case):
    prepared = _prepared(*random_case(6, n_images=30))
    within = prepared.positive
    seen = []

    def compute(w):
        seen.append(w)
        return prepared.metrics(w, 0.3)

    bootstrap_intervals(compute, prepared.n_images, 40, seed=2, within=within)
    weights = np.concatenate(seen)
    assert (weights[:, ~within] == 0).all()  # the other images are never drawn
    assert (weights.sum(axis=1) == within.sum()).all()  # each resample is as large as the set
    np.testing.assert_array_equal(weights[:, within], resample_weights(int(within.sum()), 40, seed=2))
