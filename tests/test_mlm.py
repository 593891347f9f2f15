"""Tests of support.mlm: BERT masking, contextual vectors, word-in-context, tiny LMs, MLM head."""

from __future__ import annotations

import doctest
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from support import mlm
from support.mlm import IGNORE_INDEX, KEPT, MASKED, NOT_CHOSEN, RANDOM

VOCAB = 50
SPECIAL = (0, 1, 2, 3)
MASK_ID = 1


def _ids(shape: tuple[int, ...], seed: int = 0, low: int = 0) -> torch.Tensor:
    return torch.randint(low, VOCAB, shape, generator=torch.Generator().manual_seed(seed))


def _mask(ids: torch.Tensor, seed: int = 0, **kwargs) -> mlm.MaskedBatch:
    return mlm.bert_mask(
        ids,
        mask_token_id=MASK_ID,
        vocab_size=VOCAB,
        special_token_ids=SPECIAL,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


# ------------------------------------------------------------------------------ BERT masking


def test_doctests_of_module() -> None:
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for name in ("bert_mask", "find_word_span"):
        for test in finder.find(getattr(mlm, name), name, globs={"torch": torch, **vars(mlm)}):
            runner.run(test)
    assert runner.failures == 0


def test_proportions_match_15_80_10_10_by_chi_square() -> None:
    ids = _ids((400, 500), seed=1)
    b = _mask(ids, seed=2)
    eligible = ~torch.isin(ids, torch.tensor(SPECIAL))
    n = int(eligible.sum())
    counts = [int(((b.action == a) & eligible).sum()) for a in (NOT_CHOSEN, MASKED, RANDOM, KEPT)]
    expected = [n * 0.85, n * 0.15 * 0.8, n * 0.15 * 0.1, n * 0.15 * 0.1]
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    chosen = int(b.chosen.sum())
    assert abs(chosen / n - 0.15) < 5 * math.sqrt(0.15 * 0.85 / n)


def test_random_replacements_are_uniform_over_ordinary_ids() -> None:
    ids = _ids((400, 500), seed=3)
    b = _mask(ids, seed=4, mask_prob=0.5, mask_fraction=0.0, random_fraction=1.0)
    drawn = b.input_ids[b.action == RANDOM]
    assert not torch.isin(drawn, torch.tensor(SPECIAL)).any()
    counts = torch.bincount(drawn, minlength=VOCAB)[len(SPECIAL) :].numpy()
    assert stats.chisquare(counts).pvalue > 1e-3


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    mask_prob=st.floats(0.0, 1.0),
)
def test_special_tokens_never_chosen_and_labels_consistent(rows, cols, seed, mask_prob) -> None:
    ids = _ids((rows, cols), seed=seed)  # includes special ids at random places
    before = ids.clone()
    b = _mask(ids, seed=seed, mask_prob=mask_prob)
    special = torch.isin(ids, torch.tensor(SPECIAL))
    assert torch.equal(ids, before)  # the input is not modified
    assert not (b.chosen & special).any()
    assert torch.equal(b.input_ids[~b.chosen], ids[~b.chosen])
    assert torch.equal(b.labels[b.chosen], ids[b.chosen])
    assert (b.labels[~b.chosen] == IGNORE_INDEX).all()
    assert (b.input_ids[b.action == MASKED] == MASK_ID).all()
    assert torch.equal(b.input_ids[b.action == KEPT], ids[b.action == KEPT])
    assert torch.equal(b.chosen, b.action != NOT_CHOSEN)


def test_same_seed_same_corruption_and_dtype_kept() -> None:
    ids = _ids((8, 30), seed=5).int()
    a, b = _mask(ids, seed=9), _mask(ids, seed=9)
    assert torch.equal(a.input_ids, b.input_ids) and a.input_ids.dtype == torch.int32
    assert not torch.equal(a.chosen, _mask(ids, seed=10).chosen)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"mask_prob": 1.5}, "mask_prob"),
        ({"mask_fraction": -0.1}, "mask_fraction"),
        ({"mask_fraction": 0.8, "random_fraction": 0.3}, "mask_fraction \\+ random_fraction"),
    ],
)
def test_bad_probabilities_raise(kwargs, word) -> None:
    with pytest.raises(ValueError, match=word):
        _mask(_ids((2, 5)), **kwargs)


def test_bad_ids_raise() -> None:
    with pytest.raises(ValueError, match="input_ids"):
        _mask(torch.rand(2, 3))
    with pytest.raises(ValueError, match="vocab_size"):
        _mask(torch.tensor([[VOCAB]]))
    with pytest.raises(ValueError, match="mask_token_id"):
        mlm.bert_mask(torch.tensor([[4]]), mask_token_id=VOCAB, vocab_size=VOCAB)


def test_loss_equals_cross_entropy_on_chosen_positions_only() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, VOCAB, generator=gen, requires_grad=True)
    b = _mask(_ids((3, 7), seed=1, low=4), seed=2, mask_prob=0.5)
    loss = mlm.masked_lm_loss(logits, b.labels)
    rows = [
        -F.log_softmax(logits[i, t], -1)[b.labels[i, t]] for i, t in b.chosen.nonzero().tolist()
    ]
    assert loss.item() == pytest.approx(torch.stack(rows).mean().item(), rel=1e-6)
    reference = F.cross_entropy(logits.reshape(-1, VOCAB), b.labels.reshape(-1), ignore_index=-100)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    loss.backward()
    assert (logits.grad[~b.chosen] == 0).all()
    changed = logits.detach().clone()
    changed[~b.chosen] = 100 * torch.randn(int((~b.chosen).sum()), VOCAB, generator=gen)
    assert mlm.masked_lm_loss(changed, b.labels).item() == pytest.approx(loss.item(), rel=1e-6)


def test_loss_needs_a_chosen_position_and_matching_shapes() -> None:
    with pytest.raises(ValueError, match="no position is chosen"):
        mlm.masked_lm_loss(torch.zeros(1, 3, 5), torch.full((1, 3), IGNORE_INDEX))
    with pytest.raises(ValueError, match="labels.shape"):
        mlm.masked_lm_loss(torch.zeros(1, 3, 5), torch.zeros(1, 4, dtype=torch.long))


def test_attention_mask_matrix() -> None:
    assert mlm.attention_mask_matrix(3, causal=True).int().tolist() == [
        [1, 0, 0],
        [1, 1, 0],
        [1, 1, 1],
    ]
    assert mlm.attention_mask_matrix(3, causal=False).all()
    with pytest.raises(ValueError, match="seq_len"):
        mlm.attention_mask_matrix(0, causal=True)


# ------------------------------------------------------------------------------ word vectors


def test_find_word_span() -> None:
    assert mlm.find_word_span("They ran to the Bank.", "bank") == (16, 20)
    assert mlm.find_word_span("the banks were shut", "bank") == (4, 9)
    assert mlm.find_word_span("a tear-gas attack", "tear gas") == (2, 10)
    assert mlm.find_word_span("the embankment; a bank", "bank") == (18, 22)
    with pytest.raises(ValueError, match="does not occur"):
        mlm.find_word_span("the river", "bank")


@pytest.fixture(scope="module")
def tiny_encoder():
    """A small random BERT with the real all-MiniLM-L6-v2 tokenizer (fast, offline)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from support.models import ModelNotAvailableError, encoder_path

    try:
        path = encoder_path("all-minilm-l6-v2", source="packaged")
    except ModelNotAvailableError as err:  # pragma: no cover - depends on the install
        pytest.skip(str(err))
    tokenizer = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    return SimpleNamespace(model=model, tokenizer=tokenizer)


def test_contextual_vectors_match_manual_hidden_states(tiny_encoder) -> None:
    enc = tiny_encoder
    sentences = ["he sat on the bank of the river", "a riverbank", "the bank"]
    v = mlm.contextual_word_vectors(enc, sentences, ["bank", "riverbank", "bank"])
    assert v.shape == (3, 3, 32) and v.dtype == np.float32
    for i, (sentence, word) in enumerate(
        zip(sentences, ["bank", "riverbank", "bank"], strict=True)
    ):
        batch = enc.tokenizer(sentence, return_tensors="pt")
        tokens = enc.tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
        pieces = [t for t in enc.tokenizer.tokenize(word)]
        start = next(j for j in range(len(tokens)) if tokens[j : j + len(pieces)] == pieces)
        with torch.no_grad():
            hidden = enc.model(**batch, output_hidden_states=True).hidden_states
        manual = torch.stack([h[0, start : start + len(pieces)].mean(0) for h in hidden]).numpy()
        np.testing.assert_allclose(v[i], manual, atol=1e-5)
    assert len(enc.tokenizer.tokenize("riverbank")) >= 2  # the averaging case is exercised


def test_contextual_vectors_single_batch_and_span_agree(tiny_encoder) -> None:
    s = ["the bank raised its rates", "we walked along the bank of a very long and winding river"]
    batched = mlm.contextual_word_vectors(tiny_encoder, s, "bank", batch_size=2)
    alone = mlm.contextual_word_vectors(tiny_encoder, s[1], "bank")
    by_span = mlm.contextual_word_vectors(tiny_encoder, s, [(4, 8), (20, 24)])
    assert alone.shape == (3, 32)
    np.testing.assert_allclose(batched[1], alone, atol=1e-5)  # padding changes nothing
    np.testing.assert_allclose(batched, by_span, atol=1e-6)
    assert not np.allclose(batched[0, -1], batched[1, -1])  # context changes the vector
    with pytest.raises(ValueError, match="targets has 1 entries"):
        mlm.contextual_word_vectors(tiny_encoder, s, ["bank"])
    with pytest.raises(ValueError, match="span"):
        mlm.contextual_word_vectors(tiny_encoder, "the bank", (5, 40))


def test_static_vectors_are_embedding_rows(tiny_encoder) -> None:
    enc = tiny_encoder
    table = enc.model.get_input_embeddings().weight.detach()
    ids = enc.tokenizer("riverbank", add_special_tokens=False)["input_ids"]
    np.testing.assert_allclose(
        mlm.static_word_vectors(enc, "riverbank"), table[ids].mean(0).numpy(), atol=1e-6
    )
    assert mlm.static_word_vectors(enc, ["bank", "river"]).shape == (2, 32)
    with pytest.raises(ValueError, match="non-empty"):
        mlm.static_word_vectors(enc, [""])


# ------------------------------------------------------------------------------ word in context


@dataclass(frozen=True)
class Ex:
    lemma: str
    pos: str
    synset_offset: int
    sentence: str
    gloss: str = ""
    span: tuple[int, int] = (0, 1)


def _examples() -> list[Ex]:
    rows = [
        ("bank", 1, "a1"),
        ("bank", 1, "a2"),
        ("bank", 1, "a3"),
        ("bank", 2, "b1"),
        ("bank", 2, "b2"),
        ("bank", 3, "c1"),
        ("run", 7, "r1"),
        ("run", 7, "r2"),
        ("run", 8, "s1"),
        ("lone", 9, "x1"),  # one sense: unusable
        ("lone", 9, "x2"),
        ("pair", 4, "p1"),  # two senses but no same-sense pair: unusable
        ("pair", 5, "p2"),
    ]
    return [Ex(lemma, "n", off, s) for lemma, off, s in rows]


def test_select_and_build_balanced_pairs() -> None:
    kept = mlm.select_wic_lemmas(_examples())
    assert {e.lemma for e in kept} == {"bank", "run"}
    pairs = mlm.build_wic_pairs(kept, pairs_per_lemma=3, seed=0)
    for lemma in ("bank", "run"):
        labels = [p.same_sense for p in pairs if p.lemma == lemma]
        assert labels.count(True) == labels.count(False) > 0
    for p in pairs:
        a, b = kept[p.index_a], kept[p.index_b]
        assert a.lemma == b.lemma == p.lemma and a.sentence != b.sentence
        assert p.same_sense == (a.synset_offset == b.synset_offset)
    assert pairs == mlm.build_wic_pairs(kept, pairs_per_lemma=3, seed=0)
    assert len(mlm.select_wic_lemmas(_examples(), max_lemmas=1)) in (3, 6)


def test_split_by_lemma_has_no_leak() -> None:
    lemmas = [f"w{i % 37}" for i in range(500)]
    train, test = mlm.split_by_lemma(lemmas, test_fraction=0.3, seed=1)
    assert np.all(train ^ test)
    assert not {lemmas[i] for i in np.flatnonzero(train)} & {
        lemmas[i] for i in np.flatnonzero(test)
    }
    assert len({lemmas[i] for i in np.flatnonzero(test)}) == round(0.3 * 37)
    with pytest.raises(ValueError, match="test_fraction"):
        mlm.split_by_lemma(lemmas, test_fraction=1.0)


def test_pair_cosines_match_sklearn() -> None:
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 3, 5))
    pairs = [mlm.WicPair("w", "n", a, b, True) for a, b in [(0, 1), (2, 5), (3, 4)]]
    cos = mlm.pair_cosines(v, pairs)
    assert cos.shape == (3, 3)
    for layer in range(3):
        ref = cosine_similarity(v[:, layer])
        np.testing.assert_allclose(cos[layer], [ref[p.index_a, p.index_b] for p in pairs])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-5, 5), st.booleans()), min_size=1, max_size=30),
)
def test_fit_threshold_is_the_best_threshold(data) -> None:
    scores = np.array([s for s, _ in data], dtype=float)
    labels = np.array([y for _, y in data])
    t = mlm.fit_threshold(scores, labels)
    best = max(np.mean((scores >= c) == labels) for c in np.arange(-6.5, 6.6, 0.5))
    assert np.mean((scores >= t) == labels) == pytest.approx(best)


def test_identical_vectors_give_exactly_chance_on_balanced_pairs() -> None:
    kept = mlm.select_wic_lemmas(_examples())
    pairs = mlm.build_wic_pairs(kept, pairs_per_lemma=2, seed=0)
    static = np.ones((len(kept), 4))  # every occurrence of a lemma has the same vector
    train = np.array([p.lemma == "bank" for p in pairs])
    (result,) = mlm.wic_by_layer(static, pairs, train)
    assert result.test_accuracy == 0.5 and result.train_accuracy == 0.5


def test_sense_vectors_give_perfect_wic_and_clustering() -> None:
    kept = mlm.select_wic_lemmas(_examples())
    one_hot = np.eye(20)[[e.synset_offset for e in kept]] + 0.01
    pairs = mlm.build_wic_pairs(kept, pairs_per_lemma=2, seed=0)
    train = np.array([p.lemma == "bank" for p in pairs])
    (result,) = mlm.wic_by_layer(one_hot, pairs, train)
    assert result.test_accuracy == 1.0
    ari = mlm.sense_clustering_ari(one_hot[:, None, :].repeat(2, axis=1), kept)
    assert ari.shape == (2, 2) and np.all(ari == 1.0)
    ari_static = mlm.sense_clustering_ari(np.ones((len(kept), 3)), kept)
    assert np.all(ari_static == 0.0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=1, max_size=40))
def test_adjusted_rand_index_matches_sklearn(data) -> None:
    from sklearn.metrics import adjusted_rand_score

    a, b = [x for x, _ in data], [y for _, y in data]
    assert mlm.adjusted_rand_index(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-9)


def test_cluster_senses_recovers_separated_groups_in_any_order() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    truth = np.repeat([0, 1, 2], 5)
    points = centres[truth] + rng.normal(scale=0.1, size=(15, 3)) + 1
    for seed in range(3):
        labels = mlm.cluster_senses(points, 3, seed=seed)
        assert mlm.adjusted_rand_index(truth, labels) == 1.0
    with pytest.raises(ValueError, match="n_clusters"):
        mlm.cluster_senses(points, 16)


# ------------------------------------------------------------------------------ tiny LMs


@dataclass(frozen=True)
class FakeVocab:
    vocab_size: int = 12
    mask_id: int = 1
    special_ids: tuple[int, ...] = (0, 1, 2)


def _tiny(causal: bool, seed: int = 0):
    from support.tinylm import TinyLM, TinyLMConfig

    cfg = TinyLMConfig(vocab_size=12, block_size=16, n_layer=1, n_head=2, d_model=16, causal=causal)
    return TinyLM(cfg, seed=seed).eval()


def test_masked_lm_batch_shapes_and_labels() -> None:
    tokens = np.arange(3, 12).repeat(20)
    gen = torch.Generator().manual_seed(0)
    x, y = mlm.masked_lm_batch(tokens, 4, 10, vocab=FakeVocab(), generator=gen, mask_prob=0.5)
    assert x.shape == y.shape == (4, 10)
    chosen = y != IGNORE_INDEX
    assert chosen.any() and (y[chosen] >= 3).all()
    assert torch.equal(x[~chosen] >= 3, torch.ones_like(x[~chosen], dtype=torch.bool))


def test_train_tiny_lm_same_compute_for_both_objectives() -> None:
    tokens = np.random.default_rng(0).integers(3, 12, 2000)
    kwargs = dict(d_model=16, n_layer=1, n_head=2, block_size=16, batch_size=4, steps=3)
    causal, rc = mlm.train_tiny_lm("causal", tokens, FakeVocab(), **kwargs)
    masked, rm = mlm.train_tiny_lm("masked", tokens, FakeVocab(), **kwargs)
    assert rc.tokens == rm.tokens == 3 * 4 * 16
    assert causal.config.causal and not masked.config.causal
    assert causal.num_params() == masked.num_params()
    with pytest.raises(ValueError, match="objective"):
        mlm.train_tiny_lm("denoise", tokens, FakeVocab(), **kwargs)


def test_next_token_logprobs_match_full_window_logits() -> None:
    model = _tiny(causal=True)
    w = torch.randint(3, 12, (5, 16), generator=torch.Generator().manual_seed(1))
    lp = mlm.next_token_logprobs(model, w, 7)
    logits, _ = model(w)
    torch.testing.assert_close(lp, F.log_softmax(logits[:, 6], -1), atol=1e-5, rtol=1e-5)


def test_masked_position_never_sees_the_hidden_token() -> None:
    model = _tiny(causal=False)
    w = torch.randint(3, 12, (5, 16), generator=torch.Generator().manual_seed(2))
    other = w.clone()
    other[:, 8] = 3 + (w[:, 8] - 3 + 1) % 9
    a = mlm.masked_position_logprobs(model, w, 8, mask_id=1)
    torch.testing.assert_close(a, mlm.masked_position_logprobs(model, other, 8, mask_id=1))
    torch.testing.assert_close(a.exp().sum(1), torch.ones(5))


def test_rescored_logprobs_equal_bayes_by_brute_force() -> None:
    model = _tiny(causal=True, seed=3)
    w = torch.randint(3, 12, (3, 16), generator=torch.Generator().manual_seed(4))
    cands = list(range(3, 12))
    got = mlm.rescored_logprobs(model, w, 6, cands, batch_size=5)
    for i in range(3):
        joint = []
        for c in cands:  # log p(whole window) by the chain rule, prefix included
            x = w[i].clone()
            x[6] = c
            logits, _ = model(x[None, :-1])
            joint.append(F.log_softmax(logits[0], -1).gather(1, x[1:, None]).sum())
        want = torch.log_softmax(torch.stack(joint), 0)
        torch.testing.assert_close(got[i, cands], want, atol=1e-4, rtol=1e-4)
        assert torch.isinf(got[i, :3]).all()


def test_prediction_scores_hand_case() -> None:
    lp = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.7, 0.1]]))
    out = mlm.prediction_scores(lp, torch.tensor([0, 2]))
    np.testing.assert_allclose(out["nll"], [math.log(2), math.log(10)], rtol=1e-6)
    np.testing.assert_array_equal(out["correct"], [1.0, 0.0])


def test_masked_lm_generate_appends_ordinary_tokens() -> None:
    model = _tiny(causal=False)
    prompt = torch.tensor([[3, 4, 5]])
    run = [
        mlm.masked_lm_generate(
            model,
            prompt,
            20,
            mask_id=1,
            suppress_ids=(0, 1, 2),
            generator=torch.Generator().manual_seed(0),
        )
        for _ in range(2)
    ]
    assert run[0].shape == (1, 23) and torch.equal(run[0], run[1])
    assert (run[0][0, 3:] >= 3).all()


# ------------------------------------------------------------------------------ MLM head


def test_tied_head_shares_the_embedding_and_matches_formula(tiny_encoder) -> None:
    emb = tiny_encoder.model.get_input_embeddings()
    head = mlm.TiedMLMHead(emb, seed=0)
    assert head.tied_weight.data_ptr() == emb.weight.data_ptr()
    assert all(p is not emb.weight for p in head.parameters())
    h = torch.randn(4, 32)
    want = F.layer_norm(F.gelu(h @ head.dense.weight.T + head.dense.bias), (32,), eps=1e-12)
    want = want * head.norm.weight + head.norm.bias
    torch.testing.assert_close(head(h), want @ emb.weight.T + head.bias)


def test_fit_mlm_head_trains_only_the_head(tiny_encoder) -> None:
    before = {k: v.clone() for k, v in tiny_encoder.model.state_dict().items()}
    texts = ["the cat sat on the mat", "a dog ran in the park", "the bank of the river"] * 4
    model, history = mlm.fit_mlm_head(tiny_encoder, texts, steps=6, batch_size=4, seed=0)
    after = tiny_encoder.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert len(history["loss"]) >= 1 and all(np.isfinite(history["loss"]))
    assert (
        model.head.tied_weight.data_ptr()
        == tiny_encoder.model.embeddings.word_embeddings.weight.data_ptr()
    )  # noqa: E501
    scores = mlm.masked_token_accuracy(model, tiny_encoder.tokenizer, texts, mask_prob=0.5)
    n = len(scores["nll"])
    assert n > 0 and all(len(scores[k]) == n for k in ("top1", "top5", "target"))
    assert np.all(scores["top5"] >= scores["top1"])
    with pytest.raises(ValueError, match="steps"):
        mlm.fit_mlm_head(tiny_encoder, texts, steps=0)


def test_masked_token_accuracy_of_uniform_model_is_log_vocab(tiny_encoder) -> None:
    tok = tiny_encoder.tokenizer

    def uniform(input_ids, attention_mask):
        return torch.zeros(*input_ids.shape, len(tok))

    scores = mlm.masked_token_accuracy(uniform, tok, ["the cat sat on the mat"] * 8, mask_prob=0.5)
    np.testing.assert_allclose(scores["nll"], math.log(len(tok)), rtol=1e-6)


def test_fill_mask_ranks_by_probability(tiny_encoder) -> None:
    tok = tiny_encoder.tokenizer
    favourite = tok.convert_tokens_to_ids(["river", "bank"])

    def fake(input_ids, attention_mask):
        logits = torch.zeros(*input_ids.shape, len(tok))
        logits[..., favourite[0]] = 3.0
        logits[..., favourite[1]] = 2.0
        return logits

    top = mlm.fill_mask(fake, tok, f"the {tok.mask_token} was muddy", top_k=3)
    assert [t for t, _ in top[:2]] == ["river", "bank"]
    assert top[0][1] > top[1][1] > top[2][1] and sum(p for _, p in top) < 1
    with pytest.raises(ValueError, match="mask token"):
        mlm.fill_mask(fake, tok, "no blank here")


# ------------------------------------------------------------------------------ real encoder


@pytest.mark.slow
def test_real_encoder_contextual_versus_static() -> None:
    from support.models import load_encoder

    enc = load_encoder()
    sentences = [
        "he sat on the bank of the river and watched the water",
        "they pulled the canoe up on the bank",
        "he cashed a check at the bank",
        "that bank holds the mortgage on my home",
    ]
    v = mlm.contextual_word_vectors(enc, sentences, "bank")
    assert v.shape == (4, 7, 384)
    x = v[:, 3] / np.linalg.norm(v[:, 3], axis=1, keepdims=True)
    cos = x @ x.T
    # on average, same-sense occurrences are closer than cross-sense ones in a middle layer
    same = (cos[0, 1] + cos[2, 3]) / 2
    cross = (cos[0, 2] + cos[0, 3] + cos[1, 2] + cos[1, 3]) / 4
    assert same > cross
    s = mlm.static_word_vectors(enc, ["bank"] * 4)
    assert np.allclose(s, s[0])


def test_compare_objectives_reports_every_setting() -> None:
    causal, masked = _tiny(causal=True), _tiny(causal=False)
    w = torch.randint(3, 12, (6, 16), generator=torch.Generator().manual_seed(5))
    out = mlm.compare_objectives(causal, masked, w, mask_id=1, candidate_ids=range(3, 12))
    assert len(out) == 5 and all(len(v["correct"]) == 6 for v in out.values())
    left = mlm.prediction_scores(mlm.next_token_logprobs(causal, w, 8), w[:, 8])
    np.testing.assert_allclose(out["middle, causal LM, left side"]["nll"], left["nll"])
    assert "middle, causal LM, both sides by rescoring" not in mlm.compare_objectives(
        causal, masked, w, mask_id=1
    )


def test_masked_features_are_taken_at_chosen_positions(tiny_encoder) -> None:
    texts = ["the cat sat on the mat", "a dog ran in the park"] * 10
    feats, labels = mlm.masked_features(
        tiny_encoder, texts, mask_prob=0.5, generator=torch.Generator().manual_seed(0)
    )
    assert feats.shape == (len(labels), 32) and len(labels) > 0
    assert not torch.isin(labels, torch.tensor(tiny_encoder.tokenizer.all_special_ids)).any()
