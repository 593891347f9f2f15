"""Chapter 0's executed numbers obey the identities the chapter teaches."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.built_book


def test_units_and_perplexity_are_consistent(glued) -> None:
    g = glued("00_cross_entropy")
    assert g["loss_bits"] == pytest.approx(g["loss_nats"] / math.log(2), rel=1e-9)
    assert g["ppl"] == pytest.approx(math.exp(g["loss_nats"]), rel=1e-9)
    assert 0 < g["top_prob"] <= g["top15_mass"] <= 1
    assert g["entropy_bits"] >= 0


def test_word_order_carries_information(glued) -> None:
    """Shuffling words keeps the vocabulary but removes syntax: the cost per character rises."""
    g = glued("00_cross_entropy")
    assert g["bpc_shuffled_first"] > g["bpc_first"]
