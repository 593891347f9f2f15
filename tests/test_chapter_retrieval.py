"""Checks on the executed bi-/cross-encoder chapter: its glued numbers against what must hold."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.built_book

STEM = "05_bi_cross_encoders"


@pytest.fixture
def g(glued):
    return glued(STEM)


def test_our_encoder_is_sentence_transformers(g) -> None:
    assert g["encode_max_diff"] < 1e-4


def test_metrics_are_shares_and_nested(g) -> None:
    for name in ("base_p1", "base_r10", "base_rkmax", "tuned_p1", "tuned_r10", "tuned_rkmax"):
        assert 0.0 <= g[name] <= 1.0, name
    # For one system, a longer list can only find more: P@1 = R@1 <= R@10 <= R@K_MAX.
    assert g["base_p1"] <= g["base_r10"] <= g["base_rkmax"]
    assert g["tuned_p1"] <= g["tuned_r10"] <= g["tuned_rkmax"]


def test_reranking_is_bounded_by_what_the_bi_encoder_retrieved(g) -> None:
    # A reranker only reorders the top k: precision@1 cannot exceed Recall@k of the candidates.
    assert g["best_rerank_p1"] <= g["tuned_rkmax"] + 1e-12
    assert g["rerank_kmax_p1"] <= g["tuned_rkmax"] + 1e-12
    if g["k_rerank_min"] == 1:  # reordering a single candidate changes nothing
        assert g["rerank_k1_p1"] == pytest.approx(g["tuned_p1"])
    assert g["rerank_gain_kmax_low"] <= g["rerank_gain_kmax"] <= g["rerank_gain_kmax_high"]
    assert g["rerank_kmax_p1"] == pytest.approx(g["tuned_p1"] + g["rerank_gain_kmax"])
    assert g["bi_gain_low"] <= g["bi_gain"] <= g["bi_gain_high"]
    assert g["bi_gain_r10_low"] <= g["bi_gain_r10"] <= g["bi_gain_r10_high"]
    assert g["bi_gain_r10"] == pytest.approx(g["tuned_r10"] - g["base_r10"])


def test_diagnostics_are_consistent(g) -> None:
    assert 0 < g["constant_nats"] <= 0.6931471805599453  # a Bernoulli entropy, at most ln 2
    assert g["ce_dev_nats"] > 0
    # Among queries whose gloss was retrieved, "bi-encoder ranks it first" is exactly P@1.
    assert g["bi_first_found"] * g["n_found"] == pytest.approx(g["tuned_p1"] * g["n_test_queries"])


def test_latency_and_scale(g) -> None:
    assert g["bi_ms"] > 0 and g["ce_ms_per_candidate"] > 0 and g["query_encode_ms"] > 0
    assert g["rerank_ms_kmax"] > g["ce_ms_per_candidate"]  # k > 1 candidates cost more than one
    # Scoring a million documents with the cross-encoder dwarfs one exact search over them.
    assert g["rerank_all_million_hours"] * 3.6e6 > 100 * g["search_million_ms"]
    assert g["search_ms_per_million"] > 0
    assert g["k_budget"] >= 0
