"""support.likelihood: surprisal equals the model's own loss; units convert correctly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from support import likelihood
from support.models import load_causal_lm


@given(st.floats(min_value=0.0, max_value=50.0))
def test_units(nats: float) -> None:
    assert likelihood.nats_to_bits(nats) == pytest.approx(nats / math.log(2))
    assert likelihood.perplexity(nats) == pytest.approx(math.exp(nats))


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_perplexity_rejects_impossible_cross_entropy(bad: float) -> None:
    with pytest.raises(ValueError, match="mean_nats"):
        likelihood.perplexity(bad)


@pytest.fixture(scope="module")
def lm():
    return load_causal_lm("smollm2-135m-instruct", source="packaged")


@pytest.mark.slow
def test_mean_surprisal_equals_transformers_loss(lm) -> None:
    text = "The children were playing house in the garden."
    s = likelihood.surprisal(lm, text)
    ids = torch.tensor([lm.tokenizer(text, add_special_tokens=False).input_ids])
    with torch.no_grad():
        reference = lm.model(input_ids=ids, labels=ids).loss.item()
    assert s.mean_nats == pytest.approx(reference, rel=1e-4)
    assert len(s.tokens) == ids.shape[1] - 1 and np.all(s.nats >= 0)
    assert s.bits_per_character == pytest.approx(s.nats.sum() / math.log(2) / s.n_characters)


@pytest.mark.slow
def test_next_token_distribution_is_sorted_and_bounded(lm) -> None:
    d = likelihood.next_token_distribution(lm, "One, two, three,", k=20)
    assert np.all(np.diff(d.probabilities) <= 0) and 0 < d.probabilities.sum() <= 1 + 1e-9
    assert 0 <= d.entropy_nats <= math.log(lm.model.config.vocab_size)
    with pytest.raises(ValueError, match="k must be"):
        likelihood.next_token_distribution(lm, "x", k=0)
    with pytest.raises(ValueError, match="prompt"):
        likelihood.next_token_distribution(lm, "", k=3)


@pytest.mark.slow
def test_suppressed_tokens_never_appear() -> None:
    gemma = load_causal_lm("gemma-3-270m", source="packaged")
    d = likelihood.next_token_distribution(gemma, "A photo of", k=50)
    assert 255999 not in d.token_ids.tolist()


@pytest.mark.slow
def test_surprisal_rejects_short_text(lm) -> None:
    with pytest.raises(ValueError, match="at least 2 tokens"):
        likelihood.surprisal(lm, "a")
    with pytest.raises(ValueError, match="max_tokens"):
        likelihood.surprisal(lm, "a b c", max_tokens=1)
