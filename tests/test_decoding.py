"""Tests for support.decoding: transforms vs transformers, properties, the loop, metrics."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from support.decoding import (
    DecodingSetting,
    SettingScores,
    Throughput,
    apply_temperature,
    decoding_sweep,
    distinct_n,
    distribution_slider,
    entropy_figure,
    entropy_nats,
    generate,
    generate_batch,
    generate_samples,
    greedy_token,
    measure_throughput,
    ngrams,
    nucleus_mask,
    repetition_rate,
    sample_token,
    self_bleu,
    sentence_bleu,
    sequence_logprobs,
    sweep_figure,
    text_perplexity,
    throughput_figure,
    top_k_filter,
    top_p_filter,
    tradeoff_figure,
    warp_logits,
    words,
)
from support.models import CausalLM

# ------------------------------------------------------------------------------ helpers

logit_rows = st.lists(
    st.floats(min_value=-20, max_value=20, allow_nan=False), min_size=1, max_size=60
).map(lambda xs: torch.tensor(xs, dtype=torch.float32))
tied_rows = st.lists(st.integers(-3, 3), min_size=1, max_size=30).map(
    lambda xs: torch.tensor(xs, dtype=torch.float32)
)
ps = st.floats(min_value=1e-3, max_value=1.0)


def random_logits(seed: int, shape=(4, 500), scale: float = 3.0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_temperature_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(torch.zeros(3), bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, None])
def test_top_k_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(torch.zeros(3), bad)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.01, float("nan"), True])
def test_top_p_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="top_p"):
        nucleus_mask(torch.zeros(3), bad)


def test_logits_must_be_float_tensor():
    with pytest.raises(ValueError, match="logits"):
        top_k_filter(torch.tensor([1, 2, 3]), 1)
    with pytest.raises(ValueError, match="logits"):
        apply_temperature(torch.zeros(0), 1.0)


def test_transforms_do_not_mutate_input():
    logits = random_logits(0)
    before = logits.clone()
    for out in (
        apply_temperature(logits, 1.0),
        apply_temperature(logits, 0.5),
        top_k_filter(logits, 3),
        top_p_filter(logits, 0.5),
        warp_logits(logits),
        warp_logits(logits, temperature=0.7, top_k=10, top_p=0.9),
    ):
        out.fill_(0.0)  # writing to the result must not reach the input either
        assert torch.equal(logits, before)


# ------------------------------------------------------------------------------ vs transformers


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_temperature_matches_transformers(seed, temperature):
    logits = random_logits(seed)
    ref = TemperatureLogitsWarper(temperature)(None, logits.clone())
    torch.testing.assert_close(apply_temperature(logits, temperature), ref)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 5, 50, 499, 500, 10_000])
def test_top_k_matches_transformers(seed, k):
    logits = random_logits(seed)
    ref = TopKLogitsWarper(k)(None, logits.clone())
    assert torch.equal(top_k_filter(logits, k), ref)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.95, 0.999])
@pytest.mark.parametrize("scale", [0.5, 3.0, 8.0])
def test_top_p_matches_transformers(seed, p, scale):
    logits = random_logits(seed, scale=scale)
    ref = TopPLogitsWarper(p)(None, logits.clone())
    ours = top_p_filter(logits, p)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(ref)), "kept sets differ"
    torch.testing.assert_close(torch.softmax(ours, -1), torch.softmax(ref, -1))


@pytest.mark.parametrize("seed", range(5))
def test_composition_matches_transformers_chain(seed):
    logits = random_logits(seed)
    chain = LogitsProcessorList(
        [TemperatureLogitsWarper(0.8), TopKLogitsWarper(40), TopPLogitsWarper(0.9)]
    )
    ref = chain(None, logits.clone())
    ours = warp_logits(logits, temperature=0.8, top_k=40, top_p=0.9)
    assert torch.equal(torch.isfinite(ours), torch.isfinite(ref))
    torch.testing.assert_close(torch.softmax(ours, -1), torch.softmax(ref, -1))


# ------------------------------------------------------------------------------ properties


@settings(max_examples=150, deadline=None)
@given(logit_rows, st.floats(0.05, 20.0), st.one_of(st.none(), st.integers(1, 80)), ps)
def test_warped_probabilities_sum_to_one(logits, t, k, p):
    probs = torch.softmax(warp_logits(logits, temperature=t, top_k=k, top_p=p).double(), -1)
    assert not torch.isnan(probs).any()
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-9)
    assert int((probs > 0).sum()) >= 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(logit_rows, tied_rows), ps)
def test_nucleus_is_the_minimal_set_with_mass_p(logits, p):
    probs = torch.softmax(logits.double(), -1)
    mask = nucleus_mask(logits, p)
    kept = probs[mask]
    assert mask.any()
    # Enough mass (tolerance for float rounding of the cumulative sum) ...
    assert float(kept.sum()) >= p - 1e-9
    # ... and minimal: every kept token is at least as likely as every dropped token, and the
    # tokens strictly more likely than the least likely kept one hold less than p.
    if (~mask).any():
        assert float(kept.min()) >= float(probs[~mask].max())
    above = probs[probs > kept.min()]
    assert float(above.sum()) < p + 1e-9 or p == 1.0


@settings(max_examples=100, deadline=None)
@given(tied_rows, ps)
def test_nucleus_keeps_all_ties_of_the_crossing_token(logits, p):
    probs = torch.softmax(logits.double(), -1)
    mask = nucleus_mask(logits, p)
    threshold = probs[mask].min()
    assert torch.equal(mask, probs >= threshold)


def test_top_k_keeps_ties():
    logits = torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0])
    out = top_k_filter(logits, 2)
    assert torch.isfinite(out).tolist() == [True, False, True, True, False]


def test_top_p_hand_computed_case():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    # 0.5 < 0.6, 0.5 + 0.3 >= 0.6: the second token crosses the threshold and is kept.
    assert nucleus_mask(logits, 0.6).tolist() == [True, True, False, False]
    assert nucleus_mask(logits, 0.5).tolist() == [True, False, False, False]
    assert nucleus_mask(logits, 0.81).tolist() == [True, True, True, False]
    renorm = torch.softmax(top_p_filter(logits, 0.6), -1)
    torch.testing.assert_close(renorm, torch.tensor([0.625, 0.375, 0.0, 0.0]))


@settings(max_examples=100, deadline=None)
@given(logit_rows)
def test_identity_settings_leave_distribution_unchanged(logits):
    assert torch.equal(warp_logits(logits), logits)
    assert torch.equal(top_p_filter(logits, 1.0), logits)
    assert torch.equal(apply_temperature(logits, 1.0), logits)


def test_p_one_keeps_the_far_tail():
    # The cumulative sum reaches 1.0 in float long before these tiny probabilities.
    logits = torch.tensor([0.0] + [-80.0] * 10)
    assert nucleus_mask(logits, 1.0).all()


@settings(max_examples=100, deadline=None)
@given(logit_rows)
def test_low_temperature_approaches_greedy(logits):
    top2 = torch.topk(logits, min(2, len(logits))).values
    if len(logits) > 1 and float(top2[0] - top2[1]) < 1e-2:
        return  # a near-tie: the limit is a split between the tied tokens
    probs = torch.softmax(apply_temperature(logits, 1e-3).double(), -1)
    assert float(probs[greedy_token(logits)]) > 1 - 1e-4


@settings(max_examples=100, deadline=None)
@given(logit_rows, st.floats(0.05, 5.0), st.floats(1.01, 3.0))
def test_entropy_rises_with_temperature(logits, t, factor):
    low = float(entropy_nats(apply_temperature(logits, t)))
    high = float(entropy_nats(apply_temperature(logits, t * factor)))
    assert high >= low - 1e-9


def test_high_temperature_approaches_uniform():
    logits = random_logits(1, shape=(1000,))
    h = float(entropy_nats(apply_temperature(logits, 1e4)))
    assert h == pytest.approx(math.log(1000), abs=1e-3)


def test_entropy_hand_computed_and_ignores_masked_tokens():
    assert float(entropy_nats(torch.zeros(4))) == pytest.approx(math.log(4))
    masked = torch.tensor([0.0, 0.0, float("-inf")])
    assert float(entropy_nats(masked)) == pytest.approx(math.log(2))


def test_greedy_token_picks_lowest_index_among_ties():
    assert greedy_token(torch.tensor([1.0, 5.0, 5.0])).item() == 1
    assert greedy_token(torch.tensor([[0.0, 1.0], [2.0, 1.0]])).tolist() == [1, 0]


def test_sample_token_frequencies_match_the_warped_distribution():
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0]).expand(20_000, 5)
    gen = torch.Generator().manual_seed(0)
    draws = sample_token(logits, temperature=0.9, top_p=0.8, generator=gen)
    expected = torch.softmax(warp_logits(logits[0], temperature=0.9, top_p=0.8), -1)
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    assert freq[expected == 0].sum() == 0  # never a removed token
    np.testing.assert_allclose(freq.numpy(), expected.double().numpy(), atol=0.015)


def test_sample_token_is_reproducible_with_a_seeded_generator():
    logits = random_logits(2)
    a = sample_token(logits, generator=torch.Generator().manual_seed(7))
    b = sample_token(logits, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.shape == (4,)


# ------------------------------------------------------------------------------ metrics


def test_words_and_ngrams():
    assert words("The cat, the CAT!") == ["the", "cat", ",", "the", "cat", "!"]
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []
    with pytest.raises(ValueError, match="n=0"):
        ngrams(["a"], 0)


def test_distinct_n_hand_computed():
    assert distinct_n("a b a b", 1) == 0.5
    assert distinct_n("a b a b", 2) == pytest.approx(2 / 3)
    assert distinct_n(["a b", "a c"], 1) == pytest.approx(3 / 4)
    assert math.isnan(distinct_n(["a"], 2))


def test_repetition_rate():
    assert repetition_rate("a b c d e f", n=2) == 0.0
    loop = "we go " * 10
    assert repetition_rate(loop, n=4) > 0.8
    assert repetition_rate(["a b c", "a a a a"], n=1) == [0.0, 0.75]


def test_sentence_bleu_hand_computed():
    assert sentence_bleu("the cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx(1)
    assert sentence_bleu("dog", ["the cat"]) == 0.0
    # hyp "the cat the cat" vs ref "the cat sat": clipped 1-gram precision 2/4; 2-grams
    # (the cat),(cat the),(the cat) -> 1 match of 3, smoothed (1+1)/(3+1); c = 4 > r = 3, no
    # brevity penalty. BLEU-2 = sqrt(0.5 * 0.5).
    assert sentence_bleu("the cat the cat", ["the cat sat"], max_n=2) == pytest.approx(0.5)
    # Brevity: hyp "the cat" vs ref "the cat sat on": precisions 1 and (1+1)/(1+1)=1,
    # penalty exp(1 - 4/2).
    assert sentence_bleu("the cat", ["the cat sat on"], max_n=2) == pytest.approx(math.exp(-1))


def test_self_bleu_extremes():
    assert self_bleu(["a b c d e", "a b c d e", "a b c d e"]) == pytest.approx(1.0)
    assert self_bleu(["a b c d", "e f g h", "i j k l"]) == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        self_bleu(["only one"])


# ------------------------------------------------------------------------------ the loop


class CharTokenizer:
    """A tiny character tokenizer: id 0 is <eos>, ids 1.. are the characters below."""

    chars = " abcdefghijklmnopqrstuvwxyz.,"
    eos_token = "<eos>"
    eos_token_id = 0
    bos_token = None
    all_special_tokens = ["<eos>"]

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [self.chars.index(c) + 1 for c in text]}

    def decode(self, ids, skip_special_tokens=False):
        return "".join(
            ("" if skip_special_tokens else "<eos>") if i == 0 else self.chars[i - 1] for i in ids
        )

    def convert_tokens_to_ids(self, token):
        return 0 if token == "<eos>" else self.chars.index(token) + 1


@pytest.fixture(scope="module")
def tiny_lm() -> Iterator[CausalLM]:
    # One thread: a tiny model gains nothing from two, and busy-waiting OpenMP threads on a
    # shared machine made these tests ten times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(CharTokenizer.chars) + 1,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=0,
        bos_token_id=None,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # sharper logits, so sampled text is not uniform noise
        model.lm_head.weight.mul_(20.0)
        model.lm_head.weight[0] = 0.0  # EOS logit 0: below the best of 29 sharp logits
    yield CausalLM("tiny", "tiny", model, CharTokenizer(), (), False)
    torch.set_num_threads(threads)


def test_greedy_matches_transformers_generate(tiny_lm):
    g = generate(tiny_lm, "the cat", max_new_tokens=25, greedy=True)
    ids = torch.tensor([g.prompt_ids])
    ref = tiny_lm.model.generate(
        ids, max_new_tokens=25, do_sample=False, eos_token_id=0, pad_token_id=0
    )
    assert g.token_ids == ref[0, ids.shape[1] :].tolist()
    assert g.stopped_by == "max_new_tokens" and len(g.token_ids) == 25
    assert g.text == tiny_lm.tokenizer.decode(g.token_ids)


def test_cache_and_no_cache_agree(tiny_lm):
    kw = {"max_new_tokens": 20, "temperature": 1.2, "top_p": 0.9, "seed": 3}
    a = generate(tiny_lm, "a dog", **kw)
    b = generate(tiny_lm, "a dog", use_cache=False, **kw)
    assert a.token_ids == b.token_ids
    np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-4)


def test_logprobs_are_under_the_unmodified_model(tiny_lm):
    g = generate(tiny_lm, "hello", max_new_tokens=15, temperature=0.5, top_k=3, seed=1)
    (scored,) = sequence_logprobs(tiny_lm, g.prompt_ids, [g.token_ids])
    np.testing.assert_allclose(g.logprobs, scored, atol=1e-4)
    assert g.perplexity == pytest.approx(math.exp(-np.mean(scored)), rel=1e-4)


def test_seed_reproducibility(tiny_lm):
    a = generate(tiny_lm, "x", max_new_tokens=30, seed=5)
    b = generate(tiny_lm, "x", max_new_tokens=30, seed=5)
    c = generate(tiny_lm, "x", max_new_tokens=30, seed=6)
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids


def test_stops_on_eos(tiny_lm):
    reference = generate(tiny_lm, "the cat", max_new_tokens=10, greedy=True)
    eos_like = reference.token_ids[3]
    lm = CausalLM("tiny", "tiny", tiny_lm.model, _TokenizerWithEos(eos_like), (), False)
    g = generate(lm, "the cat", max_new_tokens=10, greedy=True)
    first = reference.token_ids.index(eos_like)
    assert g.stopped_by == "eos"
    assert g.token_ids == reference.token_ids[: first + 1]  # the EOS token is included ...
    assert g.text == CharTokenizer().decode(reference.token_ids[:first])  # ... but not its text


class _TokenizerWithEos(CharTokenizer):
    def __init__(self, eos_id):
        self.eos_token_id = eos_id


def test_stops_on_stop_string_and_cuts_text(tiny_lm):
    reference = generate(tiny_lm, "the cat", max_new_tokens=30, greedy=True)
    stop = reference.text[5:7]
    g = generate(tiny_lm, "the cat", max_new_tokens=30, greedy=True, stop_strings=(stop,))
    cut = reference.text.index(stop)
    assert g.stopped_by == "stop_string"
    assert g.text == reference.text[:cut]
    assert len(g.token_ids) == cut + len(stop)  # one character per token here


def test_suppressed_tokens_are_never_emitted(tiny_lm):
    reference = generate(tiny_lm, "the cat", max_new_tokens=20, greedy=True)
    banned = tuple(sorted(set(reference.token_ids)))
    lm = CausalLM("tiny", "tiny", tiny_lm.model, tiny_lm.tokenizer, banned, False)
    for kw in ({"greedy": True}, {"temperature": 2.0, "seed": 0}):
        g = generate(lm, "the cat", max_new_tokens=20, **kw)
        assert not set(g.token_ids) & set(banned)


def test_generate_samples_rows_are_independent_draws(tiny_lm):
    gens = generate_samples(tiny_lm, "the", num_samples=4, max_new_tokens=12, seed=0)
    assert len(gens) == 4
    assert len({tuple(g.token_ids) for g in gens}) > 1
    for g in gens:
        (scored,) = sequence_logprobs(tiny_lm, g.prompt_ids, [g.token_ids])
        np.testing.assert_allclose(g.logprobs, scored, atol=1e-4)


@pytest.mark.parametrize("use_cache", [True, False])
def test_batch_of_different_prompts_matches_single_runs(tiny_lm, use_cache):
    prompts = ["the cat sat on", "a", "hello there"]  # different lengths: left padding
    batch = generate_batch(tiny_lm, prompts, max_new_tokens=12, greedy=True, use_cache=use_cache)
    for prompt, row in zip(prompts, batch, strict=True):
        alone = generate(tiny_lm, prompt, max_new_tokens=12, greedy=True)
        assert row.prompt_ids == alone.prompt_ids
        assert row.token_ids == alone.token_ids
        np.testing.assert_allclose(row.logprobs, alone.logprobs, atol=1e-4)


def test_generate_batch_rejects_a_bare_string(tiny_lm):
    with pytest.raises(ValueError, match="prompts"):
        generate_batch(tiny_lm, "abc", max_new_tokens=3)
    with pytest.raises(ValueError, match="prompts"):
        generate_batch(tiny_lm, [], max_new_tokens=3)
    with pytest.raises(ValueError, match="num_samples"):
        generate_samples(tiny_lm, "abc", num_samples=0, max_new_tokens=3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 5, "temperature": 0.0}, "temperature"),
        ({"max_new_tokens": 5, "top_p": 1.5}, "top_p"),
        ({"max_new_tokens": 5, "top_k": 0}, "top_k"),
        ({"max_new_tokens": 5, "seed": -1}, "seed"),
        ({"max_new_tokens": 5, "stop_strings": "\n"}, "stop_strings"),
        ({"max_new_tokens": 5, "stop_strings": [""]}, "stop_strings"),
    ],
)
def test_generate_rejects_bad_arguments(tiny_lm, kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate(tiny_lm, "abc", **kwargs)


def test_generate_rejects_bad_prompts(tiny_lm):
    with pytest.raises(ValueError, match="prompt"):
        generate(tiny_lm, "", max_new_tokens=3)
    with pytest.raises(ValueError, match="prompt"):
        generate(tiny_lm, [999], max_new_tokens=3)


def test_text_perplexity_one_or_many(tiny_lm):
    one = text_perplexity(tiny_lm, "the cat", " sat")
    many = text_perplexity(tiny_lm, "the cat", [" sat", " sat on the mat", ""])
    assert isinstance(one, float) and one == pytest.approx(many[0], rel=1e-5)
    assert math.isnan(many[2])
    ids = tiny_lm.tokenizer("the cat")["input_ids"]
    (scored,) = sequence_logprobs(tiny_lm, ids, [tiny_lm.tokenizer(" sat on the mat")["input_ids"]])
    assert many[1] == pytest.approx(math.exp(-np.mean(scored)), rel=1e-5)


def test_decoding_sweep_scores(tiny_lm):
    settings_ = [DecodingSetting("greedy", greedy=True), DecodingSetting("T=1.5", 1.5)]
    greedy, hot = decoding_sweep(
        tiny_lm, ["the", "a cat"], settings_, num_samples=3, max_new_tokens=15, judge=tiny_lm
    )
    assert greedy.self_bleu == pytest.approx(1.0)  # identical samples
    assert hot.distinct_2 > greedy.distinct_2
    assert greedy.ppl_self == pytest.approx(greedy.ppl_judge, rel=1e-3)  # same model judges
    assert len(hot.samples) == 2 and len(hot.samples[0]) == 3


def test_distribution_slider_has_one_step_per_value(tiny_lm):
    logits = random_logits(0, shape=(len(CharTokenizer.chars) + 1,))
    fig = distribution_slider(tiny_lm, logits, temperatures=[0.5, 1, 2], top_ps=[0.9], top_n=10)
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 3 and len(fig.data) == 6
    assert "T = 2" in steps[2].args[1]["title.text"]
    with pytest.raises(ValueError, match="at most one"):
        distribution_slider(tiny_lm, logits, temperatures=[1, 2], top_ps=[0.5, 0.9])


def test_measure_throughput_on_the_tiny_model(tiny_lm):
    t = measure_throughput(tiny_lm, "the cat", max_new_tokens=6, repeats=1)
    assert t.same_tokens and t.new_tokens == 6
    assert min(t.ours, t.no_cache, t.reference) > 0
    sampled = measure_throughput(
        tiny_lm, "the cat", max_new_tokens=6, greedy=False, top_p=0.9, include_no_cache=False
    )
    assert math.isnan(sampled.no_cache) and sampled.reference > 0
    with pytest.raises(ValueError, match="repeats"):
        measure_throughput(tiny_lm, "the cat", max_new_tokens=6, repeats=0)


def test_entropy_figure_rises_towards_ln_v(tiny_lm):
    fig, logits = entropy_figure(tiny_lm, {"a": "the cat", "b": "x"}, np.array([0.1, 1, 100]))
    assert set(logits) == {"a", "b"} and logits["a"].shape == (len(CharTokenizer.chars) + 1,)
    for trace in fig.data:
        assert list(trace.y) == sorted(trace.y)  # entropy rises with temperature
        assert trace.y[-1] <= math.log(len(CharTokenizer.chars) + 1) + 1e-9
    with pytest.raises(ValueError, match="non-empty"):
        entropy_figure(tiny_lm, {}, [1.0])


def _fake_scores(label: str, **knobs) -> SettingScores:
    return SettingScores(DecodingSetting(label, **knobs), 0.5, 0.8, 0.2, 0.1, 3.0, 9.0, 20.0, [])


def test_sweep_tradeoff_and_throughput_figures_build():
    temps = [_fake_scores(f"T={t}", temperature=t) for t in (0.5, 1.0)]
    tops = [_fake_scores(f"p={p}", top_p=p) for p in (0.5, 1.0)]
    greedy = _fake_scores("greedy", greedy=True)
    fig = sweep_figure(temps, tops, greedy, model_name="m", judge_name="j")
    assert len(fig.data) == 2 * 5 * 2  # columns x metrics x (curve, greedy line)
    assert list(fig.data[0].x) == [0.5, 1.0]
    fig = tradeoff_figure({"temperature": temps}, [greedy], judge_name="j")
    assert [t.name for t in fig.data] == ["temperature", "greedy"]
    timing = {8: Throughput(10.0, 5.0, 9.0, True, 8), 32: Throughput(9.0, 3.0, 9.5, True, 32)}
    fig = throughput_figure(timing, model_name="m")
    assert list(fig.data[2].y) == [5.0, 3.0]
    assert timing[8].ratio == pytest.approx(10 / 9) and timing[8].cache_speedup == 2.0


# ------------------------------------------------------------------------------ real model


@pytest.mark.slow
def test_real_model_greedy_matches_generate_and_suppresses():
    from support.models import load_causal_lm

    lm = load_causal_lm("gemma-3-270m")
    g = generate(lm, "The capital of France is", max_new_tokens=8, greedy=True)
    ids = torch.tensor([g.prompt_ids])
    ref = lm.model.generate(
        ids,
        max_new_tokens=8,
        do_sample=False,
        suppress_tokens=list(lm.suppress_token_ids),
        pad_token_id=0,
    )
    assert g.prompt_ids[0] == lm.tokenizer.bos_token_id
    assert g.token_ids == ref[0, ids.shape[1] :].tolist()
    assert not set(g.token_ids) & set(lm.suppress_token_ids)
