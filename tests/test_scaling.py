"""Tests for support.scaling: published laws, the three fits, baselines and the sweep runner."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import check_grad, minimize_scalar
from scipy.special import huber

from support.scaling import (
    CHINCHILLA,
    EPOCH,
    KAPLAN,
    PF_DAY,
    ParametricLaw,
    _chinchilla_objective,
    _huber,
    fit_chinchilla,
    fit_isoflop,
    fit_power_law,
    isoflop_plan,
    ngram_cross_entropy,
    run_sweep,
)
from support.tinylm import TinyLMConfig
from support.training import eval_windows


@settings(max_examples=30, deadline=None)
@given(log_c=st.floats(15.0, 60.0), which=st.sampled_from([CHINCHILLA, EPOCH]))
def test_closed_form_optimum_matches_numerical_minimisation(log_c: float, which) -> None:
    c = math.exp(log_c)
    n, d, loss = which.compute_optimal(c)
    assert 6 * n * d == pytest.approx(c, rel=1e-9)
    # independent reference: minimise L(N, C / 6N) over ln N numerically
    res = minimize_scalar(
        lambda x: which.loss(math.exp(x), c / (6 * math.exp(x))),
        bounds=(0.0, 80.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert math.log(n) == pytest.approx(res.x, abs=1e-4)
    assert loss == pytest.approx(res.fun, rel=1e-9)


def test_published_constants() -> None:
    assert CHINCHILLA.a == pytest.approx(0.28 / 0.62)
    assert CHINCHILLA.a + CHINCHILLA.b == pytest.approx(1.0)
    assert EPOCH.a == pytest.approx(0.51, abs=0.01)
    n, d, _ = KAPLAN.compute_optimal(PF_DAY)  # one PF-day
    assert n == pytest.approx(1.3e9) and d == pytest.approx(PF_DAY / (6 * 1.3e9))
    assert KAPLAN.loss_n(KAPLAN.n_c) == pytest.approx(1.0)
    assert KAPLAN.loss_d(KAPLAN.d_c) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="compute"):
        CHINCHILLA.compute_optimal(-1.0)
    with pytest.raises(ValueError, match="alpha and beta"):
        ParametricLaw("bad", 1.0, 1.0, 1.0, -0.1, 0.2).compute_optimal(1e20)


def test_huber_matches_scipy() -> None:
    r = np.linspace(-0.01, 0.01, 101)
    value, grad = _huber(r, 1e-3)
    np.testing.assert_allclose(value, huber(1e-3, r), rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(grad, np.clip(r, -1e-3, 1e-3), atol=1e-18)


def test_objective_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    log_n, log_d = rng.uniform(8, 14, 12), rng.uniform(10, 16, 12)
    log_loss = np.log(CHINCHILLA.loss(np.exp(log_n), np.exp(log_d))) + rng.normal(0, 0.05, 12)
    theta = np.array([6.0, 6.0, 0.5, 0.3, 0.3])
    args = (log_n, log_d, log_loss, 1.0)  # wide Huber threshold: smooth everywhere here
    err = check_grad(lambda t: _chinchilla_objective(t, *args)[0],
                     lambda t: _chinchilla_objective(t, *args)[1], theta)  # fmt: skip
    assert err < 1e-5


def _synthetic_runs(law: ParametricLaw, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = np.repeat(np.geomspace(2e3, 5e5, 6), 4)
    c = np.tile([1e10, 1e11, 1e12, 1e13], 6)
    d = c / (6 * n)
    loss = law.loss(n, d) * np.exp(rng.normal(0.0, noise, len(n)))
    return n, d, loss


def test_fit_chinchilla_recovers_a_known_law() -> None:
    truth = ParametricLaw("truth", E=1.1, A=40.0, B=90.0, alpha=0.4, beta=0.3)
    n, d, loss = _synthetic_runs(truth, noise=0.0)
    fit = fit_chinchilla(n, d, loss, n_starts=8, n_boot=3, boot_starts=2)
    for p in ["E", "A", "B", "alpha", "beta"]:
        assert getattr(fit.law, p) == pytest.approx(getattr(truth, p), rel=1e-3), p
    assert fit.bootstrap.shape == (3, 5)
    low, high = fit.interval("alpha")
    assert low <= high
    assert fit.samples("a") == pytest.approx(fit.samples("beta") / (
        fit.samples("alpha") + fit.samples("beta")))  # fmt: skip


def test_fit_chinchilla_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 5 runs"):
        fit_chinchilla([1, 2, 3], [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="loss"):
        fit_chinchilla([1] * 5, [1] * 5, [1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match="equal lengths"):
        fit_chinchilla([1] * 5, [1] * 6, [1] * 5)
    with pytest.raises(ValueError, match="n_starts"):
        fit_chinchilla([1] * 5, [1] * 5, [1] * 5, n_starts=0)


def test_fit_isoflop_recovers_vertices_and_exponent() -> None:
    budgets = np.array([1e10, 1e11, 1e12])
    n_opt = 3e3 * (budgets / 1e10) ** 0.6  # a = 0.6 by construction
    rows = []
    for c, m in zip(budgets, n_opt, strict=True):
        for k in np.linspace(-1.5, 1.5, 5):
            n = m * math.exp(k)
            rows.append((c, n, 2.0 + 0.1 * k**2))  # a parabola in ln N with vertex at m
    c, n, loss = map(np.array, zip(*rows, strict=True))
    fit = fit_isoflop(c, n, loss)
    np.testing.assert_allclose(fit.n_opt, n_opt, rtol=1e-8)
    np.testing.assert_allclose(fit.d_opt, budgets / (6 * n_opt), rtol=1e-8)
    assert fit.a == pytest.approx(0.6) and fit.b == pytest.approx(0.4)
    assert fit.interior.all() and fit.used.all()
    assert fit.n_opt_at(1e13) == pytest.approx(3e3 * 1e3**0.6, rel=1e-8)
    windowed = fit_isoflop(c, n, loss, window=3)
    assert windowed.used.sum() == 9
    np.testing.assert_allclose(windowed.n_opt, n_opt, rtol=1e-8)


def test_fit_isoflop_flags_slices_without_a_minimum() -> None:
    c = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    n = np.array([1.0, 10.0, 100.0, 1.0, 10.0, 100.0])
    loss = np.array([3.0, 2.0, 3.0, 3.0, 3.5, 3.6])  # second slice: concave
    fit = fit_isoflop(c, n, loss)
    assert np.isfinite(fit.n_opt[0]) and fit.interior[0]
    assert np.isnan(fit.n_opt[1]) and not fit.interior[1] and np.isnan(fit.a)
    with pytest.raises(ValueError, match="each needs >= 3"):
        fit_isoflop([1, 1, 2, 2, 2], [1, 2, 1, 2, 3], [1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="window"):
        fit_isoflop(c, n, loss, window=2)


def test_fit_power_law_exact_and_errors() -> None:
    x = np.geomspace(1e3, 1e6, 7)
    fit = fit_power_law(x, (5e4 / x) ** 0.2)
    assert fit.alpha == pytest.approx(0.2) and fit.x_c == pytest.approx(5e4)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(5e4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="distinct"):
        fit_power_law([1.0, 1.0], [1.0, 2.0])


def test_ngram_cross_entropy_hand_computed() -> None:
    train, val = np.array([0, 1, 1, 2]), np.array([1, 2])
    # unigram, add-1, V = 3: p = (1+1, 2+1, 1+1) / 7
    expected = -(math.log(3 / 7) + math.log(2 / 7)) / 2
    assert ngram_cross_entropy(train, val, 3, order=1, add_k=1.0) == pytest.approx(expected)
    # bigram: pairs (0,1), (1,1), (1,2); row 1 has counts (0, 1, 1) + 1 -> p(2 | 1) = 2 / 5
    assert ngram_cross_entropy(train, val, 3, order=2, add_k=1.0) == pytest.approx(-math.log(0.4))
    with pytest.raises(ValueError, match="order"):
        ngram_cross_entropy(train, val, 3, order=3)
    with pytest.raises(ValueError, match="val_ids"):
        ngram_cross_entropy(train, np.array([5]), 3)


def test_isoflop_plan_and_a_tiny_sweep() -> None:
    configs = [TinyLMConfig(10, 8, 1, 1, 8), TinyLMConfig(10, 8, 1, 2, 16)]
    plan = isoflop_plan([2e7, 1e7], configs, batch_size=4, min_steps=3, max_steps=60)
    assert [p.budget for p in plan] == sorted(p.budget for p in plan)
    for p in plan:
        assert 3 <= p.steps <= 60 and p.tokens == p.steps * 4 * 8
        assert p.flops == pytest.approx(p.budget, rel=0.5 / p.steps + 1e-9)
    with pytest.raises(ValueError, match="max_steps"):
        isoflop_plan([1e7], configs, batch_size=4, min_steps=10, max_steps=5)
    tokens = np.tile(np.arange(10), 50)
    few = [p for p in plan if p.steps <= 20][:2]
    seen = []
    runs = run_sweep(few, tokens, eval_windows(tokens, 9, 4), batch_size=4, on_run=seen.append)
    assert len(runs) == len(few) == len(seen)
    for run, item in zip(runs, few, strict=True):
        assert run.tokens == item.tokens and run.flops == pytest.approx(
            6 * run.n_params * run.tokens
        )
        assert run.n_params_total > run.n_params and math.isfinite(run.val_loss)
        assert run.flops_per_second > 0
    with pytest.raises(ValueError, match="block_size"):
        run_sweep(few, tokens, torch.zeros(2, 5, dtype=torch.long), batch_size=4)
