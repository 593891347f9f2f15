"""The scaling-laws chapter's executed numbers: a real sweep, real fits, sane relations."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.built_book


def test_sweep_spans_the_grid_the_issue_asks_for(glued) -> None:
    g = glued("03_scaling_laws")
    assert g["n_sizes"] >= 5 and g["n_budgets"] >= 3
    assert g["n_decades"] >= 1.5
    assert math.log10(g["n_max"] / g["n_min"]) == pytest.approx(g["n_decades"], abs=0.05)


def test_models_learn_more_than_a_bigram_table(glued) -> None:
    """Cross-entropy ladder: uniform > unigram > bigram > our best transformer."""
    g = glued("03_scaling_laws")
    assert g["uniform_nats"] == pytest.approx(math.log(g["vocab_size"]), rel=1e-6)
    assert g["uniform_nats"] > g["unigram_nats"] > g["bigram_nats"] > g["best_loss"] > 0
    assert g["best_bpc"] == pytest.approx(g["best_loss"] / math.log(2), rel=1e-6)


def test_fitted_exponents_are_positive_and_allocation_adds_up(glued) -> None:
    """N_opt ∝ C^a and D_opt ∝ C^b with C = 6ND force a + b = 1."""
    g = glued("03_scaling_laws")
    assert 0 < g["kaplan_alpha"] < 1
    assert g["iso_a"] + g["iso_b"] == pytest.approx(1.0, abs=1e-6)
