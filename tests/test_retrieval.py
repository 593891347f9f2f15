"""Tests for support.retrieval: metrics, search, reranking, task building and our encoder."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from support.retrieval import (
    bi_encoder_pairs,
    build_wordnet_task,
    cross_encoder_pairs,
    cross_encoder_scores,
    doc_id,
    encode,
    exact_search,
    fine_tune_bi_encoder,
    fit_linear_cost,
    mean_pool,
    measure_ms,
    ndcg_at_k,
    one_thread,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    rerank_top_k,
    retrieval_metrics,
    search_ms_by_size,
    split_lemmas,
    train_cross_encoder,
)

# --------------------------------------------------------------------------- metrics by hand

RANKED = ["a", "b", "c", "d", "e"]


def test_one_relevant_document_by_hand() -> None:
    # The relevant document sits at rank 3.
    assert recall_at_k(RANKED, {"c"}, 1) == 0.0
    assert recall_at_k(RANKED, {"c"}, 3) == 1.0
    assert precision_at_k(RANKED, {"c"}, 1) == 0.0
    assert precision_at_k(RANKED, {"c"}, 3) == pytest.approx(1 / 3)
    assert precision_at_k(RANKED, {"c"}, 5) == pytest.approx(1 / 5)
    assert reciprocal_rank(RANKED, {"c"}) == pytest.approx(1 / 3)
    # DCG = 1/log2(3 + 1) = 0.5; the ideal puts it first, DCG = 1.
    assert ndcg_at_k(RANKED, {"c"}) == pytest.approx(0.5)


def test_two_relevant_documents_by_hand() -> None:
    rel = {"a", "d"}
    assert recall_at_k(RANKED, rel, 2) == 0.5
    assert recall_at_k(RANKED, rel, 4) == 1.0
    assert precision_at_k(RANKED, rel, 2) == 0.5
    assert precision_at_k(RANKED, rel, 4) == 0.5
    assert reciprocal_rank(RANKED, rel) == 1.0
    expected = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKED, rel) == pytest.approx(expected)


def test_missing_relevant_document_scores_zero_and_cutoff_applies() -> None:
    assert reciprocal_rank(RANKED, {"z"}) == 0.0
    assert ndcg_at_k(RANKED, {"z"}) == 0.0
    # Found at rank 5, but MRR@3 and nDCG@3 only look at the first three.
    assert reciprocal_rank(RANKED, {"e"}, k=3) == 0.0
    assert ndcg_at_k(RANKED, {"e"}, k=3) == 0.0
    # Precision divides by k even if fewer than k documents were returned.
    assert precision_at_k(["a"], {"a"}, 5) == pytest.approx(0.2)


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        recall_at_k(RANKED, {"a"}, 0)
    with pytest.raises(ValueError, match="relevant"):
        precision_at_k(RANKED, set(), 1)
    with pytest.raises(ValueError, match="repeat"):
        reciprocal_rank(["a", "a"], {"a"})
    with pytest.raises(ValueError, match="equal lengths"):
        retrieval_metrics([RANKED], [{"a"}, {"b"}])


def test_retrieval_metrics_per_query_with_integer_rows() -> None:
    rankings = np.array([[3, 1, 2], [0, 2, 1]])
    out = retrieval_metrics(rankings, np.array([1, 5]), recall_ks=(1, 3), precision_ks=(1,))
    assert set(out) == {"recall@1", "recall@3", "precision@1", "mrr@10", "ndcg@10"}
    np.testing.assert_allclose(out["recall@3"], [1.0, 0.0])
    np.testing.assert_allclose(out["mrr@10"], [0.5, 0.0])
    np.testing.assert_allclose(out["ndcg@10"], [1 / math.log2(3), 0.0])


rankings_and_relevance = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.permutations(list(range(n))),
        st.sets(st.integers(min_value=0, max_value=n - 1), min_size=1),
        st.integers(min_value=1, max_value=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(rankings_and_relevance)
def test_metric_properties(case: tuple[list[int], set[int], int]) -> None:
    ranked, rel, k = case
    r, p = recall_at_k(ranked, rel, k), precision_at_k(ranked, rel, k)
    assert 0.0 <= r <= 1.0 and 0.0 <= p <= 1.0
    # Both count the same hits: recall * |R| = precision * k.
    assert r * len(rel) == pytest.approx(p * k)
    assert r <= recall_at_k(ranked, rel, min(k + 1, len(ranked))) + 1e-12
    rr = reciprocal_rank(ranked, rel, k=len(ranked))
    first = min(ranked.index(d) for d in rel) + 1
    assert rr == pytest.approx(1 / first)
    ideal = sorted(ranked, key=lambda d: d not in rel)
    assert ndcg_at_k(ideal, rel, k) == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(rankings_and_relevance)
def test_ndcg_matches_scikit_learn(case: tuple[list[int], set[int], int]) -> None:
    ranked, rel, k = case
    n = len(ranked)
    assume(n >= 2)  # scikit-learn refuses a single document
    # scikit-learn wants scores: give rank 1 the highest score.
    scores = np.zeros(n)
    scores[ranked] = np.arange(n, 0, -1)
    truth = np.array([1.0 if d in rel else 0.0 for d in range(n)])
    expected = ndcg_score(truth[None, :], scores[None, :], k=k)
    assert ndcg_at_k(ranked, rel, k) == pytest.approx(expected)


# --------------------------------------------------------------------------- search and rerank


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 3, 50])
def test_exact_search_matches_full_sort(k: int) -> None:
    rng = np.random.default_rng(0)
    queries, docs = _unit(rng, 7, 16), _unit(rng, 50, 16)
    scores, idx = exact_search(queries, docs, k)
    full = queries @ docs.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-6)


def test_exact_search_single_query_and_ties() -> None:
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)
    scores, idx = exact_search(np.array([1.0, 0.0]), docs, 3)
    assert idx.shape == (3,)
    np.testing.assert_array_equal(idx, [0, 2, 1])  # the tie goes to the lower index
    np.testing.assert_allclose(scores, [1.0, 1.0, 0.0])


def test_exact_search_rejects_bad_input() -> None:
    docs = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
        exact_search(docs, docs, 4)
    with pytest.raises(ValueError, match="normalised"):
        exact_search(2 * docs, docs, 1)
    with pytest.raises(ValueError, match="same"):
        exact_search(np.ones((1, 2)), docs, 1)


def test_rerank_top_k_reorders_only_the_prefix() -> None:
    candidates = np.array([[10, 11, 12, 13], [20, 21, 22, 23]])
    scores = np.array([[0.1, 0.9, 0.5, 99.0], [1.0, 1.0, 2.0, 0.0]])
    out = rerank_top_k(candidates, scores, 3)
    np.testing.assert_array_equal(out, [[11, 12, 10, 13], [22, 20, 21, 23]])
    np.testing.assert_array_equal(candidates, [[10, 11, 12, 13], [20, 21, 22, 23]])  # untouched
    np.testing.assert_array_equal(rerank_top_k(candidates, scores, 1), candidates)
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\]"):
        rerank_top_k(candidates, scores, 5)


# --------------------------------------------------------------------------- pooling and encode


def test_mean_pool_ignores_padding() -> None:
    import torch

    tokens = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    np.testing.assert_allclose(mean_pool(tokens, mask).numpy(), [[2.0, 3.0]])
    zero = mean_pool(tokens, torch.zeros(1, 3, dtype=torch.long))
    assert torch.isfinite(zero).all()


class _ToyTokenizer:
    """Whitespace tokenizer over a fixed vocabulary, with the transformers call signature."""

    def __call__(self, texts, padding, truncation, max_length, return_tensors):  # noqa: ANN001
        import torch

        ids = [[1] + [2 + len(w) % 5 for w in t.split()][: max_length - 2] + [2] for t in texts]
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([x + [0] * (width - len(x)) for x in ids])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])

        class _Batch(dict):
            def to(self, device):  # noqa: ANN001, ANN202
                return self

        return _Batch(input_ids=input_ids, attention_mask=mask)


class _ToyEncoder:
    """An embedding table posing as a transformers encoder (last_hidden_state only)."""

    def __init__(self) -> None:
        import torch

        self.table = torch.nn.Embedding(8, 4)
        torch.nn.init.normal_(self.table.weight, generator=torch.Generator().manual_seed(0))
        self.config = type("Config", (), {"hidden_size": 4})()
        self.device = "cpu"
        self.training = False

    def eval(self) -> None:
        pass

    def train(self, mode: bool) -> None:
        self.training = mode

    def __call__(self, input_ids, attention_mask):  # noqa: ANN001, ANN204
        return type("Out", (), {"last_hidden_state": self.table(input_ids)})()


def test_encode_order_shapes_and_norm_on_a_toy_encoder() -> None:
    model, tok = _ToyEncoder(), _ToyTokenizer()
    texts = ["a bb", "ccc dddd eeeee ffffff", "g"]
    together = encode(texts, model, tok, batch_size=2)
    one_by_one = np.stack([encode(t, model, tok) for t in texts])
    assert together.shape == (3, 4) and one_by_one.shape == (3, 4)
    np.testing.assert_allclose(together, one_by_one, atol=1e-6)  # batching and order
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert encode([], model, tok).shape == (0, 4)
    with pytest.raises(ValueError, match="batch_size"):
        encode(texts, model, tok, batch_size=0)


@pytest.mark.slow
def test_encode_equals_sentence_transformers_encode() -> None:
    from support.models import load_encoder, load_sentence_transformer

    encoder = load_encoder()
    texts = [
        "bank: they pulled the canoe up on the bank",
        "sloping land (especially the slope beside a body of water)",
        "a financial institution that accepts deposits and channels the money into lending",
        "x",
    ]
    ours = encode(texts, encoder.model, encoder.tokenizer, batch_size=3)
    reference = load_sentence_transformer().encode(texts, show_progress_bar=False)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


# --------------------------------------------------------------------------- the task


@dataclass(frozen=True)
class FakeSynset:
    offset: int
    pos: str
    lemmas: tuple[str, ...]
    gloss: str


@dataclass(frozen=True)
class FakeExample:
    lemma: str
    pos: str
    synset_offset: int
    sentence: str


def _fake_wordnet(n_words: int = 30) -> tuple[list[FakeSynset], list[FakeExample]]:
    synsets, examples = [], []
    offset = 100
    for w in range(n_words):
        for sense in range(3):
            lemmas = (f"word{w}",) + ((f"word{w + 1}",) if sense == 2 else ())
            synsets.append(FakeSynset(offset, "n", lemmas, f"gloss {w}.{sense}"))
            examples.append(FakeExample(f"word{w}", "n", offset, f"the word{w} in use {sense}"))
            offset += 1
    for h in range(40):  # glosses no polysemous word uses: the haystack
        synsets.append(FakeSynset(offset + h, "n", (f"rare{h}",), f"haystack {h}"))
    # Two synsets with the same gloss text collapse into one document.
    synsets.append(FakeSynset(5000, "n", ("twin",), "gloss 0.0"))
    return synsets, examples


def test_split_lemmas_is_deterministic_and_proportional() -> None:
    keys = [f"w{i}" for i in range(100)]
    a = split_lemmas(keys, fractions=(0.6, 0.2, 0.2), seed=3)
    assert a == split_lemmas(reversed(keys), fractions=(0.6, 0.2, 0.2), seed=3)
    assert a != split_lemmas(keys, fractions=(0.6, 0.2, 0.2), seed=4)
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "dev", "test")}
    assert counts == {"train": 60, "dev": 20, "test": 20}
    with pytest.raises(ValueError, match="fractions"):
        split_lemmas(keys, fractions=(0.5, 0.2, 0.2))


def test_wordnet_task_is_leak_free() -> None:
    synsets, examples = _fake_wordnet()
    task = build_wordnet_task(
        examples=examples, synsets=synsets, fractions=(0.5, 0.2, 0.3), seed=1, max_haystack=None
    )
    splits = [task.train, task.dev, task.test]
    for i, a in enumerate(splits):
        assert a.queries, a.name
        for b in splits[i + 1 :]:
            assert not set(a.doc_ids) & set(b.doc_ids)
            assert not set(a.doc_texts) & set(b.doc_texts)
            assert not {q.sentence for q in a.queries} & {q.sentence for q in b.queries}
            assert not {q.lemma for q in a.queries} & {q.lemma for q in b.queries}
        for q in a.queries:
            relevant = a.doc_texts[a.index_of(q.relevant_id)]
            assert relevant.startswith(f"gloss {q.lemma[4:]}.") or relevant == "gloss 0.0"
            assert q.text == f"{q.lemma}: {q.sentence}"
            assert q.relevant_id not in a.hard_negative_ids(q)
    # The shared synset of word w and word w+1 belongs to one split only, so some queries go.
    assert task.dropped["answer_owned_elsewhere"] > 0
    all_texts = [t for s in splits for t in s.doc_texts]
    assert len(all_texts) == len(set(all_texts))
    assert sum(t.startswith("haystack") for t in all_texts) == 40
    again = build_wordnet_task(
        examples=examples, synsets=synsets, fractions=(0.5, 0.2, 0.3), seed=1
    )
    assert again.test.queries == task.test.queries and again.test.doc_ids == task.test.doc_ids


def test_training_pairs() -> None:
    synsets, examples = _fake_wordnet()
    task = build_wordnet_task(examples=examples, synsets=synsets, seed=0)
    pairs = bi_encoder_pairs(task.train, max_pairs=5, seed=0)
    assert len(pairs["anchor"]) == 5 and len(pairs["positive"]) == 5
    rows = cross_encoder_pairs(task.train, max_queries=6, n_hard=1, n_random=2, seed=0)
    assert rows["label"].count(1.0) == 6
    assert len(rows["label"]) == 6 * 4  # every fake lemma has a second sense
    for q, d, y in zip(rows["query"], rows["document"], rows["label"], strict=True):
        word = q.split(":")[0][4:]
        if y == 1.0:
            assert d.startswith(f"gloss {word}.") or d == "gloss 0.0"
    with pytest.raises(ValueError, match="n_hard"):
        cross_encoder_pairs(task.train, n_hard=-1)


def test_doc_id_and_task_arguments() -> None:
    assert doc_id("v", 12) == "v00000012"
    with pytest.raises(ValueError, match="pos"):
        doc_id("x", 1)
    with pytest.raises(ValueError, match="max_haystack"):
        build_wordnet_task(examples=[], synsets=[], max_haystack=-1)
    task = build_wordnet_task(examples=_fake_wordnet()[1], synsets=_fake_wordnet()[0])
    assert task.test.subsample(3, seed=0).queries == task.test.subsample(3, seed=0).queries
    assert len(task.test.subsample(3, seed=0).queries) == 3
    with pytest.raises(ValueError, match="n_queries"):
        task.test.subsample(0)


# --------------------------------------------------------------------------- latency helpers


def test_measure_ms_and_linear_fit() -> None:
    times = measure_ms(lambda: sum(range(1000)), repeats=4, warmup=1)
    assert times.shape == (4,) and (times > 0).all()
    intercept, slope = fit_linear_cost([1, 2, 3], [2.5, 3.0, 3.5])
    assert intercept == pytest.approx(2.0) and slope == pytest.approx(0.5)
    with pytest.raises(ValueError, match="distinct"):
        fit_linear_cost([1, 1], [1, 2])
    with one_thread():
        ms = search_ms_by_size([20, 200], dim=8, k=5, repeats=2)
    assert ms.shape == (2,) and (ms > 0).all()
    with pytest.raises(ValueError, match="sizes"):
        search_ms_by_size([3], k=5)


def test_one_thread_restores_the_thread_count() -> None:
    import torch

    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_fine_tunings_run_silently_and_change_weights(capfd: pytest.CaptureFixture[str]) -> None:
    import torch

    from support.models import encoder_path, load_sentence_transformer

    synsets, examples = _fake_wordnet()
    task = build_wordnet_task(examples=examples, synsets=synsets, seed=0)
    model = load_sentence_transformer()
    before = model[0].auto_model.embeddings.word_embeddings.weight.detach().clone()
    capfd.readouterr()
    fine_tune_bi_encoder(model, bi_encoder_pairs(task.train, max_pairs=16), batch_size=8)
    ce = train_cross_encoder(
        encoder_path(), cross_encoder_pairs(task.train, max_queries=4), batch_size=4, max_length=32
    )
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    after = model[0].auto_model.embeddings.word_embeddings.weight
    assert not torch.equal(before, after)
    scores = cross_encoder_scores(ce, ["word1: the word1 in use 0"] * 2, ["gloss 1.0", "gloss 9.9"])
    assert scores.shape == (2,) and np.isfinite(scores).all()
