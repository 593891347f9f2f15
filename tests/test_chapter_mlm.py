"""Checks on the executed masked-LM chapter: its glued numbers against what theory says."""

from __future__ import annotations

import math

import pytest

STEM = "04_masked_lm"


@pytest.fixture
def numbers(glued):
    return glued(STEM)


def test_masking_proportions_are_bert_s(numbers) -> None:
    # tens of thousands of tokens: the shares are within a few standard errors of 15 / 80-10-10
    assert numbers["n_eligible"] > 10_000
    assert numbers["share_chosen"] == pytest.approx(0.15, abs=0.01)
    assert numbers["share_masked"] == pytest.approx(0.80, abs=0.03)
    assert numbers["share_random"] == pytest.approx(0.10, abs=0.03)
    assert numbers["share_kept"] == pytest.approx(0.10, abs=0.03)


def test_static_baseline_is_exactly_chance(numbers) -> None:
    assert numbers["wic_static_acc"] == 0.5
    assert numbers["ari_static"] == 0.0


def test_contextual_vectors_beat_chance_at_their_best_layer(numbers) -> None:
    assert numbers["wic_best_low"] > 0.5
    assert numbers["ari_best_low"] > 0.0


def test_right_context_helps_the_causal_model(numbers) -> None:
    # the Bayes posterior uses both sides; on text it should beat the left side alone
    assert numbers["acc_mid_rescore"] > numbers["acc_mid_causal"]
    assert numbers["nll_mid_rescore"] < numbers["nll_mid_causal"]


def test_causal_model_is_better_at_the_end_of_a_text(numbers) -> None:
    # predicting the last token from the left is exactly the causal model's training task
    assert numbers["acc_last_causal"] > numbers["acc_last_masked"]
    assert numbers["nll_last_causal"] < numbers["nll_last_masked"]


def test_verdict_matches_interval(numbers) -> None:
    low, high = numbers["mid_gain_low"], numbers["mid_gain_high"]
    expected = "beats" if low > 0 else "loses to" if high < 0 else "cannot be told apart from"
    assert numbers["mid_verdict"] == expected


def test_fitted_head_is_a_distribution_better_than_uniform(numbers) -> None:
    assert numbers["head_nll"] < math.log(30522)  # a uniform guess over the vocabulary
    assert numbers["head_top5"] >= numbers["head_top1"]
