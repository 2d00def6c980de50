"""95% bootstrap confidence intervals by resampling images (percentile method), deterministic for a seed."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bonefrac.errors import EvaluationError

DEFAULT_RESAMPLES = 1000
CHUNK_ROWS = 200  # resamples evaluated per batch of matrix products (bounds memory)


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread while multiplying many small matrices: a thread pool only adds overhead there
    (30x slower on a busy 2-core machine). Uses threadpoolctl when installed, else changes nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def resample_weights(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n_images) counts: how often each image is drawn in each resample (with replacement)."""
    if resamples < 1:
        raise EvaluationError(f"bootstrap resamples must be >= 1, got {resamples}")
    if n_images < 1:
        raise EvaluationError("bootstrap needs at least one image")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_images, np.full(n_images, 1.0 / n_images), size=resamples).astype(np.float64)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """(low, high) percentile interval of the defined (non-NaN) values; None when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_intervals(
    compute: Callable[[np.ndarray], dict[str, np.ndarray]],
    n_images: int,
    resamples: int,
    seed: int,
    mask: np.ndarray | None = None,
    level: float = 0.95,
    within: np.ndarray | None = None,
) -> dict[str, tuple[float, float] | None]:
    """Percentile intervals of every metric `compute(weights)` returns, over `resamples` image resamples.

    `mask` (0/1 per image) keeps a group's images out of resamples of the whole split (a metadata breakdown:
    the group's size varies between resamples). `within` (0/1 per image) resamples only those images, as a
    test set of their own (the fractured-only protocol: always as many images as the set has).
    """
    if within is not None:
        chosen = np.flatnonzero(np.asarray(within, dtype=bool))
        weights = np.zeros((resamples, n_images))
        weights[:, chosen] = resample_weights(chosen.size, resamples, seed)
    else:
        weights = resample_weights(n_images, resamples, seed)
    if mask is not None:
        weights = weights * np.asarray(mask, dtype=np.float64)[None, :]
    collected: dict[str, list[np.ndarray]] = {}
    with single_threaded_blas():
        for start in range(0, resamples, CHUNK_ROWS):
            for name, values in compute(weights[start : start + CHUNK_ROWS]).items():
                collected.setdefault(name, []).append(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: percentile_interval(np.concatenate(parts), level) for name, parts in collected.items()}
