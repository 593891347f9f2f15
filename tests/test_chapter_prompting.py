"""The prompting chapter's executed numbers obey what the chapter claims must hold."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.built_book

STEM = "02_prompting"
MODELS = ("smollm2-135m-instruct", "gemma-3-270m")


def test_prompts_grow_with_examples_and_reasoning(glued) -> None:
    g = glued(STEM)
    assert g["demo_tokens_zero"] < g["demo_tokens_few"] < g["demo_tokens_cot"]


def test_chain_of_thought_is_not_free(glued) -> None:
    g = glued(STEM)
    assert g["cot_tokens"] > g["few_tokens"]
    assert g["cot_token_ratio"] == pytest.approx(g["cot_tokens"] / g["few_tokens"], rel=1e-9)
    assert g["cot_time_ratio"] > 0  # measured and reported by the chapter; not a timed test


def test_win_counts_are_consistent(glued) -> None:
    g = glued(STEM)
    cells = g["n_cells"]
    assert cells >= 2 * len(MODELS)
    for a, b in [("few_beats_zero", "zero_beats_few"), ("cot_beats_few", "few_beats_cot")]:
        # disjoint intervals cannot point both ways in one cell
        assert 0 <= g[a] + g[b] <= cells


def test_accuracies_are_fractions(glued) -> None:
    g = glued(STEM)
    names = [k for k in g if k.startswith(("sentiment_", "nth_letter_", "answered_", "hard_"))]
    assert names
    for name in names:
        assert 0.0 <= g[name] <= 1.0, name
    for model in MODELS:
        assert 0.0 <= g[f"order_spread_{model}"] <= 1.0


def test_examples_teach_the_base_model_the_format(glued) -> None:
    """The chapter's claim about the base model: examples raise its answer rate and accuracy."""
    g = glued(STEM)
    assert g["sentiment_few_gemma-3-270m"] > g["sentiment_zero_gemma-3-270m"]
    assert g["answered_zero_gemma-3-270m"] < 1.0


def test_the_grid_claims_of_the_prose_hold(glued) -> None:
    """Each interpretive sentence of the chapter rests on one of these inequalities."""
    g = glued(STEM)
    gemma = "gemma-3-270m"
    # examples teach the base model the format ...
    assert g[f"nth_letter_few_{gemma}"] > g[f"nth_letter_zero_{gemma}"]
    # ... and can hurt where it copies them
    assert g[f"addition_few_{gemma}"] < g[f"addition_zero_{gemma}"]
    # CoT wins somewhere, and never rescues the multi-step tasks
    assert g["cot_beats_few"] >= 1
    assert g["hard_best"] <= 0.25
    assert g["coin_at_chance"] >= g["coin_cells"] / 2
    assert g["cot_token_ratio"] > 2


def test_the_shot_curve_claims_hold(glued) -> None:
    g = glued(STEM)
    gemma = "gemma-3-270m"
    assert g[f"shots_nth_letter_1_{gemma}"] > g[f"shots_nth_letter_0_{gemma}"]
    assert g[f"shots_sentiment_8_{gemma}"] > g[f"shots_sentiment_1_{gemma}"]
