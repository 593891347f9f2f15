"""Tests for support.stats.bootstrap_ci (percentile bootstrap)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from support.stats import bootstrap_ci


def test_point_estimate_is_statistic_on_original_data() -> None:
    est, lo, hi = bootstrap_ci([1, 0, 1, 1], seed=0)
    assert est == pytest.approx(0.75)
    assert 0.0 <= lo <= est <= hi <= 1.0


def test_constant_sample_collapses_interval() -> None:
    assert bootstrap_ci([1.0] * 20) == (1.0, 1.0, 1.0)
    assert bootstrap_ci([0.0]) == (0.0, 0.0, 0.0)


def test_same_seed_same_interval_and_seed_matters() -> None:
    values = np.random.default_rng(1).normal(size=50)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_agrees_with_scipy_percentile_bootstrap() -> None:
    # Independent reference: scipy's percentile bootstrap on the same data (different RNG
    # stream, so agreement is up to Monte-Carlo noise).
    values = np.random.default_rng(0).binomial(1, 0.6, size=200).astype(float)
    _, lo, hi = bootstrap_ci(values, n_resamples=5000, seed=0)
    ref = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=5000, method="percentile", random_state=0
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.015)
    assert hi == pytest.approx(ref.high, abs=0.015)


def test_agrees_with_normal_approximation_for_a_proportion() -> None:
    # For n=400 Bernoulli(0.5) items the Wald half-width is 1.96*sqrt(p(1-p)/n) ~= 0.049.
    values = np.array([1.0, 0.0] * 200)
    est, lo, hi = bootstrap_ci(values, n_resamples=4000, seed=0)
    half = 1.96 * np.sqrt(0.25 / 400)
    assert est == 0.5
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_custom_statistic_and_confidence_width() -> None:
    values = np.arange(30, dtype=float)
    est, lo90, hi90 = bootstrap_ci(values, statistic=np.median, confidence=0.9, seed=0)
    assert est == pytest.approx(14.5)
    _, lo99, hi99 = bootstrap_ci(values, statistic=np.median, confidence=0.99, seed=0)
    assert lo99 <= lo90 <= hi90 <= hi99


def test_does_not_mutate_input() -> None:
    values = np.array([3.0, 1.0, 2.0])
    bootstrap_ci(values)
    np.testing.assert_array_equal(values, [3.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": []}, "at least one"),
        ({"values": [[1.0, 2.0]]}, "1-D"),
        ({"values": [1.0, float("nan")]}, "finite"),
        ({"values": [1.0], "n_resamples": 0}, "n_resamples"),
        ({"values": [1.0], "n_resamples": 2.5}, "n_resamples"),
        ({"values": [1.0], "confidence": 1.0}, "confidence"),
        ({"values": [1.0], "confidence": 0.0}, "confidence"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, match: str) -> None:
    values = kwargs.pop("values")
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(values, **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.floats(0.5, 0.99),
    st.integers(0, 2**31 - 1),
)
def test_interval_lies_within_sample_range(values: list[float], conf: float, seed: int) -> None:
    est, lo, hi = bootstrap_ci(values, n_resamples=200, confidence=conf, seed=seed)
    # Every resampled mean lies between min and max of the sample, so the bounds do too.
    tol = 1e-9 * (1 + max(abs(v) for v in values))
    assert min(values) - tol <= lo <= hi <= max(values) + tol
    assert min(values) - tol <= est <= max(values) + tol
