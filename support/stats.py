"""Small statistics helpers shared by the chapters.

One idea lives here: the percentile bootstrap (Efron & Tibshirani 1993, *An Introduction to the
Bootstrap*, ch. 13). It turns a handful of per-item scores (0/1 correctness, losses in nats,
latencies in seconds) into a point estimate and a confidence interval without assuming a
distribution. It is generic: the statistic is any function from a 1-D array to a number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["bootstrap_ci"]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Percentile-bootstrap confidence interval of ``statistic(values)``.

    Draws ``n_resamples`` resamples of ``values`` with replacement (each the same length as
    ``values``), applies ``statistic`` to each, and returns the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles of those resampled statistics. The units of all three
    numbers are the units of ``statistic`` (e.g. a fraction of items correct for 0/1 scores
    and ``np.mean``).

    Args:
        values: one number per independent item (a 1-D sequence, at least one element, finite).
        statistic: maps a 1-D float array to a scalar; called once on ``values`` and once per
            resample. Default: the mean.
        n_resamples: number of bootstrap resamples, >= 1.
        confidence: two-sided coverage of the interval, strictly between 0 and 1.
        seed: seed of the ``numpy`` generator that draws the resamples (same seed, same interval).

    Returns:
        ``(estimate, low, high)`` where ``estimate = statistic(values)`` on the original data and
        ``low <= high`` are the percentile bounds. With a single value, or all values equal,
        the interval collapses to that value: the bootstrap cannot show variation that the
        sample does not contain (for 20/20 correct it reports [1, 1]; say so in prose).

    Raises:
        ValueError: on an empty or non-1-D ``values``, non-finite values, ``n_resamples < 1``
            or ``confidence`` outside (0, 1).

    Example:
        >>> est, lo, hi = bootstrap_ci([1, 0, 1, 1], seed=0)
        >>> est
        0.75
        >>> 0.0 <= lo <= est <= hi <= 1.0
        True
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 1:
        raise ValueError(f"values must be 1-D, got an array of shape {data.shape}")
    if data.size == 0:
        raise ValueError("values must contain at least one element, got 0")
    if not np.all(np.isfinite(data)):
        raise ValueError("values must all be finite (no NaN or inf)")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer):
        raise ValueError(f"n_resamples must be an integer >= 1, got {n_resamples!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in the open interval (0, 1), got {confidence}")

    estimate = float(statistic(data))
    rng = np.random.default_rng(seed)
    # One matrix of indices (n_resamples x n): every row is one resample drawn with replacement.
    idx = rng.integers(0, data.size, size=(n_resamples, data.size))
    resampled = np.fromiter(
        (float(statistic(data[row])) for row in idx), dtype=float, count=n_resamples
    )
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [alpha, 1.0 - alpha])
    return estimate, float(low), float(high)
