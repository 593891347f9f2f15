# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Decoding strategies: greedy, temperature, top-k and top-p
#
# A language model returns a probability for every possible next token; it does not write
# text. **Decoding** is the rule that turns those distributions into a sequence: take the most
# likely token (greedy), or sample, after reshaping the distribution with a temperature and
# truncating its tail (top-k, top-p). This chapter writes each rule from scratch in
# `support.decoding`, derives what it does, shows it on a real model's distribution, and
# measures the trade-off it controls: diverse text versus text the model (and a second model)
# finds likely.

# %% tags=["hide-cell"]
# Colab setup: installs this book's `support` package. Does nothing outside Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "llm-book-support @ git+https://github.com/executable-llm-book/llm-book"],
        check=True,
    )  # fmt: skip

# %% tags=["parameters"]
QUICK = True  # CI runs QUICK: fewer prompts, samples, settings and timing repeats
MODEL = "smollm2-135m-instruct"  # the model that writes (short name, or a hub id in Colab)
JUDGE = "gemma-3-270m"  # a second, larger model that scores what the first one wrote
SEED = 0
SLIDER_PROMPT = "She opened the door and saw"
PEAKED_PROMPT = "The best way to learn a new language is"
FLAT_PROMPT = "The weather today is"
PROMPTS = [
    "The old lighthouse keeper had lived alone for years. One morning,",
    "In the small village at the edge of the forest,",
    "The scientist looked at the results and realised that",
    "When the train finally stopped, the passengers",
    "My grandmother always told me that",
    "The city was quiet after the storm, and",
]
N_PROMPTS = 3 if QUICK else 6
N_SAMPLES = 4 if QUICK else 8  # samples per prompt and setting
MAX_NEW_TOKENS = 40 if QUICK else 64
TEMPERATURES = [0.3, 0.7, 1.0, 1.3] if QUICK else [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6]
TOP_PS = [0.3, 0.6, 0.9] if QUICK else [0.1, 0.3, 0.5, 0.7, 0.9, 0.95]  # at temperature 1
TIMING_LENGTHS = [8, 32, 64] if QUICK else [16, 64, 128, 256]  # new tokens
TIMING_REPEATS = 2 if QUICK else 5

# %%
import math
import textwrap

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display
from transformers.utils import logging as hf_logging

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support.decoding import (
    DecodingSetting,
    apply_temperature,
    decoding_sweep,
    distribution_slider,
    entropy_figure,
    entropy_nats,
    generate,
    measure_throughput,
    next_token_logits,
    nucleus_mask,
    sweep_figure,
    throughput_figure,
    top_k_filter,
    tradeoff_figure,
)
from support.models import load_causal_lm
from support.report import glue

hf_logging.disable_progress_bar()  # no loading bars in the book's outputs
lm = load_causal_lm(MODEL)
judge = load_causal_lm(JUDGE)
for m in (lm, judge):
    print(f"{m.name}: {sum(p.numel() for p in m.model.parameters()) / 1e6:.0f}M parameters")

# %% [markdown]
# ## Greedy decoding and the generation loop
#
# Every strategy in this chapter runs inside the same loop. Feed the prompt once; then, step
# after step, read the logits $z \in \mathbb{R}^V$ for the next position, turn them into one
# token, append it, and feed *only that token* back in. The model's **KV cache** keeps the
# keys and values of all earlier positions, so a step costs one position's worth of compute
# instead of the whole sequence's (the last section measures how much that saves). The loop
# stops at an end-of-sequence token, at a stop string, or after a token budget.
#
# **Greedy** decoding takes $\arg\max_v z_v$ at every step. Our `generate` returns the new
# tokens, the text, and the log-probability of every chosen token under the model's
# *unmodified* distribution.

# %%
greedy = generate(lm, PROMPTS[0], max_new_tokens=MAX_NEW_TOKENS, greedy=True)
print(PROMPTS[0] + greedy.text)
print(f"\n{len(greedy.token_ids)} tokens, stopped by {greedy.stopped_by}, "
      f"perplexity under the model {greedy.perplexity:.2f}")  # fmt: skip
glue("greedy_ppl", greedy.perplexity)

# %% [markdown]
# Greedy text is the single most likely path the loop can find one token at a time; its
# perplexity under the model that wrote it, {glue:text}`greedy_ppl:.2f`, is low by
# construction. It is also the same text every time, and, as the experiment below measures,
# it tends to fall into loops.
#
# ## Temperature
#
# Sampling draws the next token from $p_v \propto e^{z_v}$. A **temperature** $T > 0$ divides
# the logits first:
#
# $$ p_v(T) = \frac{e^{z_v / T}}{\sum_{u} e^{z_u / T}}, \qquad
#    \frac{p_v(T)}{p_u(T)} = e^{(z_v - z_u)/T}. $$
#
# The ranking never changes; only the gaps do. For $T < 1$ every ratio between a likelier and
# a less likely token grows, for $T > 1$ it shrinks. In the limits:
#
# - $T \to 0$: every ratio to the top token goes to $0$, so $p(T)$ tends to the one-hot
#   distribution on $\arg\max_v z_v$: sampling becomes greedy decoding.
# - $T \to \infty$: every ratio goes to $1$, so $p(T)$ tends to the uniform distribution over
#   the vocabulary, whose entropy is $\ln V$.
#
# In between, the entropy rises monotonically. Write $\beta = 1/T$ and
# $\ln Z(\beta) = \ln \sum_u e^{\beta z_u}$; then $H = \ln Z - \beta\,\mathbb{E}_\beta[z]$ and,
# since $\frac{d}{d\beta}\ln Z = \mathbb{E}_\beta[z]$ and
# $\frac{d}{d\beta}\mathbb{E}_\beta[z] = \mathrm{Var}_\beta(z)$,
#
# $$ \frac{dH}{d\beta} = -\beta\,\mathrm{Var}_{\beta}(z) \le 0
#    \quad\Longrightarrow\quad
#    \frac{dH}{dT} = \frac{\mathrm{Var}_{p(T)}(z)}{T^{3}} \ge 0 , $$
#
# with equality only when all logits are equal. Below, the entropy of two real next-token
# distributions as the temperature sweeps four orders of magnitude: one context that almost
# forces the next word, and one that leaves it wide open.

# %%
contexts = {"peaked": PEAKED_PROMPT, "flat": FLAT_PROMPT}
fig, context_logits = entropy_figure(lm, contexts, np.logspace(-2, 2, 41))
fig.show()
vocab = int(torch.isfinite(context_logits["flat"]).sum())
for kind, logits in context_logits.items():
    glue(f"h1_{kind}", float(entropy_nats(logits)))
glue("ln_vocab", math.log(vocab))

# %% [markdown]
# Both curves rise from $0$ (greedy) towards $\ln V$ = {glue:text}`ln_vocab:.2f` nats
# (uniform), never turning down. At $T = 1$ the peaked context has an entropy of
# {glue:text}`h1_peaked:.2f` nats and the flat one {glue:text}`h1_flat:.2f` nats: the same
# temperature means very different amounts of randomness depending on the context.
#
# ## Top-k and top-p: truncate the tail, then renormalise
#
# A vocabulary of tens of thousands of tokens has a long tail: each token in it is unlikely,
# but together they can hold a lot of mass, and one draw from the tail can derail a sentence.
# Truncation samplers remove the tail and renormalise what is left.
#
# - **Top-k** keeps the $k$ most likely tokens.
# - **Top-p** (nucleus sampling, Holtzman et al. 2020) sorts the probabilities
#   $p_{(1)} \ge p_{(2)} \ge \dots$ and keeps the smallest prefix whose mass reaches $p$:
#
# $$ k^{*} = \min\Big\{k : \sum_{i \le k} p_{(i)} \ge p\Big\}, \qquad
#    \mathcal{V}_p = \{(1), \dots, (k^{*})\}, $$
#
# $$ q_v = \frac{p_v\,\mathbb{1}[v \in \mathcal{V}_p]}{P(\mathcal{V}_p)}, \qquad
#    P(\mathcal{V}_p) = \sum_{u \in \mathcal{V}_p} p_u . $$
#
# The token that crosses the threshold is kept (without it the mass would fall short of $p$),
# so at least one token always survives. Renormalising multiplies every kept probability by
# the same factor $1/P(\mathcal{V}_p) \le 1/p$, and the distortion is small and bounded:
# $D_{\mathrm{KL}}(q \,\|\, p) = -\ln P(\mathcal{V}_p) \le \ln(1/p)$. In `support.decoding`,
# tokens tied with the crossing token are all kept, so the result does not depend on how a
# sort orders equal values. The two contexts above show why a fixed $k$ is the weaker rule.

# %%
K = 40
print(f"{'context':<8}{'top-p 0.9 keeps':>17}{f'top-{K} keeps':>14}{'mass':>8}")
for kind, logits in context_logits.items():
    probs = torch.softmax(logits.double(), -1)
    nucleus = nucleus_mask(logits, 0.9)
    topk_mass = float(probs[torch.isfinite(top_k_filter(logits, K))].sum())
    print(f"{kind:<8}{int(nucleus.sum()):>10} tokens{K:>7} tokens{topk_mass:>8.3f}")
    glue(f"nucleus_{kind}", int(nucleus.sum()))
    glue(f"topk_mass_{kind}", topk_mass)
    glue(f"topk_extra_{kind}", max(K - int(nucleus.sum()), 0))
    glue(f"topk_extra_mass_{kind}", max(topk_mass - float(probs[nucleus].sum()), 0.0))

# %% [markdown]
# With $p = 0.9$ the nucleus of the peaked context holds {glue:text}`nucleus_peaked` token(s)
# and that of the flat context {glue:text}`nucleus_flat` tokens. A fixed $k = 40$ is too wide
# for the first: it admits {glue:text}`topk_extra_peaked` tokens beyond the nucleus, which
# together hold only {glue:text}`topk_extra_mass_peaked:.3f` of the probability, each one an
# unlikely continuation that sampling will nonetheless pick now and then. It is too narrow for
# the second: it keeps only {glue:text}`topk_mass_flat:.2f` of the mass and cuts off many
# reasonable continuations. Top-p adapts the number of candidates to the model's own
# uncertainty.
#
# ## Sliders: temperature and top-p on a real distribution
#
# In Jupyter or Colab the controls below recompute the distribution live: pick a temperature
# and a top-p and see which tokens stay in the nucleus. In the static page they show the
# state they were saved in; the two precomputed figures after them work everywhere.

# %%
slider_logits = next_token_logits(lm, SLIDER_PROMPT)


def show_nucleus(temperature: float, top_p: float, shown: int = 15) -> None:
    """Print the most likely next tokens, their tempered probability, and the nucleus."""
    tempered = apply_temperature(slider_logits, temperature)
    probs = torch.softmax(tempered.double(), -1)
    mask = nucleus_mask(tempered, top_p)
    print(f"entropy {float(entropy_nats(tempered)):.2f} nats; nucleus: {int(mask.sum())} tokens")
    for i in torch.argsort(probs, descending=True)[:shown].tolist():
        token, p = lm.tokenizer.decode([i]), float(probs[i])
        print(f"{token!r:>12} {p:6.3f} {'█' * round(50 * p)} {'kept' if mask[i] else ''}")


controls = widgets.interactive(
    show_nucleus,
    temperature=widgets.FloatLogSlider(
        value=1.0, base=10, min=-1, max=0.5, step=0.05, description="T"
    ),
    top_p=widgets.FloatSlider(value=0.9, min=0.05, max=1.0, step=0.05, description="top-p"),
    shown=widgets.fixed(15),
)
display(controls)

# %%
fig = distribution_slider(
    lm,
    slider_logits,
    temperatures=[0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
    top_ps=[0.9],
    context=SLIDER_PROMPT,
    active=3,  # start at T = 1
)
fig.show()

# %% [markdown]
# Move the temperature slider: at low $T$ the top token takes almost all the mass and the
# nucleus shrinks to a handful of tokens; at high $T$ the bars flatten, the entropy in the
# title rises, and the nucleus for the same $p = 0.9$ swells to hundreds of tokens. Orange
# bars are in the nucleus; the diamonds are the renormalised probabilities actually sampled.

# %%
fig = distribution_slider(
    lm,
    slider_logits,
    temperatures=[1.0],
    top_ps=[0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0],
    context=SLIDER_PROMPT,
    active=5,  # start at p = 0.9
)
fig.show()

# %% [markdown]
# Move the top-p slider: the bar heights (the model's distribution at $T = 1$) do not change;
# only the orange nucleus grows, and the diamonds, the kept tokens scaled up by
# $1/P(\mathcal{V}_p)$, sink towards the bars as $p \to 1$.
#
# ```{admonition} Exercise
# Derive the effect of temperature and of top-p on the next-token distribution, and describe
# one failure mode of each (and of a fixed top-k).
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# **Temperature.** $p_v(T) \propto e^{z_v/T}$ keeps the ranking and rescales log-odds:
# $\ln(p_v/p_u) = (z_v - z_u)/T$. As $T \to 0$ all mass goes to the argmax (greedy); as
# $T \to \infty$ the distribution becomes uniform (entropy $\ln V$). With $\beta = 1/T$,
# $dH/d\beta = -\beta\,\mathrm{Var}_\beta(z)$, so the entropy increases monotonically with $T$.
# *Failure mode:* at high $T$ the long tail, thousands of individually unlikely tokens, gets a
# large share of the mass; one draw from it and the text stops making sense, and each
# incoherent token makes the next context stranger (the perplexity measured below explodes).
#
# **Top-p.** Keep the smallest set $\mathcal{V}_p$ of most likely tokens with mass $\ge p$ and
# renormalise: $q_v = p_v / P(\mathcal{V}_p)$ on the nucleus, $0$ elsewhere. Relative odds
# inside the nucleus are unchanged, the tail is removed, and
# $D_{\mathrm{KL}}(q\,\|\,p) = -\ln P(\mathcal{V}_p) \le \ln(1/p)$. The nucleus size adapts
# to the context: one token when the model is sure, hundreds when it is not.
# *Failure mode:* a small $p$ leaves one or two candidates at most steps, so sampling behaves
# like greedy decoding: repetitive, generic text that can lock into a loop, because a
# repeated phrase makes the model more confident that it will repeat again (Holtzman et al.
# 2020). A large $p$ with a high $T$ lets the tail back in.
#
# **Top-k.** A fixed $k$ ignores the shape of the distribution: on a peaked distribution it
# admits $k - 1$ wrong tokens; on a flat one it removes many good ones.
# ```
#
# ## Experiment: diversity versus quality
#
# Now decode for real. For each setting, the model continues several prompts several times
# with the same seeds, and we score the continuations:
#
# - **Diversity** across the samples of one prompt: *distinct-n*, the share of unique word
#   n-grams among all n-grams of the samples (Li et al. 2016), and *self-BLEU*, the mean BLEU
#   of each sample against the others (Zhu et al. 2018; 1 means all samples are identical).
# - **Quality**: the *perplexity* of the samples under the model that wrote them and under a
#   second model, the judge, which re-tokenises the text; and the *repetition rate* within a
#   sample, the share of repeated word 4-grams (0: no loop).
#
# Greedy decoding is the reference point: deterministic, so all its "samples" are the same.

# %%
settings = (
    [DecodingSetting("greedy", greedy=True)]
    + [DecodingSetting(f"T={t:g}", temperature=t) for t in TEMPERATURES]
    + [DecodingSetting(f"top-p={p:g}", top_p=p) for p in TOP_PS]
    + [DecodingSetting(f"top-k={K}", top_k=K)]
)
scores = decoding_sweep(
    lm,
    PROMPTS[:N_PROMPTS],
    settings,
    num_samples=N_SAMPLES,
    max_new_tokens=MAX_NEW_TOKENS,
    seed=SEED,
    judge=judge,
)
print(f"{'setting':<10}{'dist-1':>7}{'dist-2':>7}{'sBLEU':>7}{'rep-4':>7}{'PPL':>8}{'judge':>8}")
for s in scores:
    print(f"{s.setting.label:<10}{s.distinct_1:>7.3f}{s.distinct_2:>7.3f}{s.self_bleu:>7.3f}"
          f"{s.repetition:>7.3f}{s.ppl_self:>8.1f}{s.ppl_judge:>8.1f}")  # fmt: skip

# %% [markdown]
# One continuation of the first prompt per setting:

# %%
for s in scores:
    text = " ".join(s.samples[0][0].split())
    print(
        textwrap.fill(
            text, 64, initial_indent=f"{s.setting.label:>9}: ", subsequent_indent=" " * 11
        )
    )

# %%
by_label = {s.setting.label: s for s in scores}
base = by_label["greedy"]
temp_scores = [by_label[f"T={t:g}"] for t in TEMPERATURES]
top_p_scores = [by_label[f"top-p={p:g}"] for p in TOP_PS] + [by_label["T=1"]]  # T=1 is p=1
fig = sweep_figure(temp_scores, top_p_scores, base, model_name=lm.name, judge_name=judge.name)
fig.show()

# %% [markdown]
# Read the columns left to right. Raising the temperature or the nucleus mass raises
# diversity (distinct-2 up, self-BLEU down) and raises the perplexity of the text under both
# models; lowering them moves the curves towards their dotted greedy lines. The highest
# within-sample repetition rate of all settings, {glue:text}`max_rep:.2f`, belongs to
# {glue:text}`max_rep_label`: loops live at the low-randomness end.

# %%
fig = tradeoff_figure(
    {"temperature sweep (top-p = 1)": temp_scores, "top-p sweep (T = 1)": top_p_scores},
    [base, by_label[f"top-k={K}"]],
    judge_name=judge.name,
)
fig.show()

hot, cold, nucleus_09 = temp_scores[-1], temp_scores[0], top_p_scores[-2]
most_repetitive = max(scores, key=lambda s: s.repetition)
glue("max_rep", most_repetitive.repetition)
glue("max_rep_label", most_repetitive.setting.label)
glue("greedy_distinct2", base.distinct_2)
glue("greedy_repetition", base.repetition)
glue("greedy_judge_ppl", base.ppl_judge)
glue("cold_label", cold.setting.label)
glue("cold_distinct2", cold.distinct_2)
glue("cold_judge_ppl", cold.ppl_judge)
glue("hot_label", hot.setting.label)
glue("hot_distinct2", hot.distinct_2)
glue("hot_judge_ppl", hot.ppl_judge)
glue("hot_self_bleu", hot.self_bleu)
glue("t1_judge_ppl", by_label["T=1"].ppl_judge)
glue("t1_self_ppl", by_label["T=1"].ppl_self)
glue("nucleus_09_label", nucleus_09.setting.label)
glue("nucleus_09_judge_ppl", nucleus_09.ppl_judge)
glue("nucleus_09_distinct2", nucleus_09.distinct_2)
glue("t1_distinct2", by_label["T=1"].distinct_2)
glue("p_low_label", top_p_scores[0].setting.label)
glue("p_low_repetition", top_p_scores[0].repetition)
glue("p_low_judge_ppl", top_p_scores[0].ppl_judge)
glue("n_prompts", N_PROMPTS)
glue("n_samples", N_SAMPLES)
glue("max_new_tokens", MAX_NEW_TOKENS)

# %% [markdown]
# Each point is one setting ({glue:text}`n_prompts` prompts × {glue:text}`n_samples` samples
# of {glue:text}`max_new_tokens` tokens). Down and to the right would be ideal, diverse text
# that the judge finds likely; the sweeps instead trace a frontier, and every knob moves along
# it. Greedy decoding sits at the corner with no diversity across samples (distinct-2
# {glue:text}`greedy_distinct2:.2f`, self-BLEU 1) and a judge perplexity of
# {glue:text}`greedy_judge_ppl:.1f`; the coldest sampler, {glue:text}`cold_label`, reaches a
# distinct-2 of {glue:text}`cold_distinct2:.2f` at a judge perplexity of
# {glue:text}`cold_judge_ppl:.1f`, and the hottest, {glue:text}`hot_label`, a distinct-2 of
# {glue:text}`hot_distinct2:.2f` at {glue:text}`hot_judge_ppl:.1f`.
#
# Pure sampling at $T = 1$ deserves a comment. In theory it is the model's own distribution,
# the one it was trained to match. Here it scores a judge perplexity of
# {glue:text}`t1_judge_ppl:.1f`, and even the writer itself finds its $T = 1$ samples
# surprising (perplexity {glue:text}`t1_self_ppl:.1f`): once one tail token is drawn, the
# context is odd, the next distribution is flatter, and the errors compound. The writer is a
# 135M-parameter model whose packaged weights are 4-bit quantised, so its tail is poorly
# calibrated and $T = 1$ is already "too hot" for it. Truncation is the fix: the nucleus at
# {glue:text}`nucleus_09_label` keeps a distinct-2 of {glue:text}`nucleus_09_distinct2:.2f`
# (against {glue:text}`t1_distinct2:.2f` at $T = 1$) at a judge perplexity of
# {glue:text}`nucleus_09_judge_ppl:.1f`. Small $p$ goes further towards greedy:
# {glue:text}`p_low_label` has a judge perplexity of {glue:text}`p_low_judge_ppl:.1f` and a
# repetition rate of {glue:text}`p_low_repetition:.2f`.
#
# Two cautions in reading this. A low perplexity is not the same as good text: greedy
# decoding maximises each step under the *writer*, not the judge, and repetitive loops can be
# very likely under any model, which is why likelihood alone cannot pick a decoder (Holtzman
# et al. 2020 found human text *less* likely under a model than beam-search text). And the
# judge is itself a small base model: its perplexity (per token of its own tokenizer, so
# comparable across settings but not with the writer's column) measures "plausible to a
# 270M-parameter model", a proxy for coherence rather than a human rating. With few samples
# per setting the curves are noisy; turn `QUICK` off for more prompts and samples.
#
# ## Throughput: our loop, `model.generate`, and no cache
#
# A from-scratch loop is only useful if it is not slower than the library's. Below, the same
# greedy continuation is produced three ways, interleaved and repeated, for several lengths:
# our `generate` with the KV cache, our `generate` recomputing the whole sequence at every step
# (`use_cache=False`), and transformers' `model.generate`. Tokens per second count new tokens
# over the wall time of the call, prompt included.

# %%
timings = {
    n: measure_throughput(lm, PROMPTS[0], max_new_tokens=n, repeats=TIMING_REPEATS, seed=SEED)
    for n in TIMING_LENGTHS
}
print(f"{'tokens':>6}{'ours':>7}{'generate':>9}{'no cache':>9}{'ratio':>7}{'cache x':>8}  same")
for n, t in timings.items():
    print(f"{n:>6}{t.ours:>7.1f}{t.reference:>9.1f}{t.no_cache:>9.1f}{t.ratio:>7.2f}"
          f"{t.cache_speedup:>8.2f}  {t.same_tokens}")  # fmt: skip

lengths = sorted(timings)
throughput_figure(timings, model_name=lm.name).show()

longest = timings[lengths[-1]]
sampled = measure_throughput(lm, PROMPTS[0], max_new_tokens=lengths[-1], repeats=TIMING_REPEATS,
                             greedy=False, temperature=0.8, top_p=0.95, seed=SEED,
                             include_no_cache=False)  # fmt: skip
print(f"sampling (T=0.8, top-p=0.95), {lengths[-1]} tokens: ours {sampled.ours:.1f} tok/s,")
print(f"    model.generate {sampled.reference:.1f} tok/s, ratio {sampled.ratio:.2f}")
glue("ratio_greedy", longest.ratio)
glue("ratio_sampled", sampled.ratio)
glue("same_tokens", "identical" if all(t.same_tokens for t in timings.values()) else "different")
glue("cache_speedup", longest.cache_speedup)
glue("cache_speedup_short", timings[lengths[0]].cache_speedup)
glue("longest", lengths[-1])
glue("shortest", lengths[0])
glue("ours_tps", longest.ours)

# %% [markdown]
# Our loop runs at {glue:text}`ratio_greedy:.2f`× the speed of `model.generate` for greedy
# decoding of {glue:text}`longest` tokens (and {glue:text}`ratio_sampled:.2f`× when sampling
# with temperature and top-p), and the greedy tokens are {glue:text}`same_tokens`: both loops
# compute the same thing, and almost all the time goes into the model's forward passes, not
# into the sampler. The curves bend with the machine's load (this book is built on a shared
# two-core CPU), which is why the runs are interleaved and the medians compared.
#
# Without the cache each step re-reads the whole sequence, so a step's cost grows with its
# position and the total cost of $n$ new tokens grows like $n^2$ rather than $n$. Here the
# cache makes generation {glue:text}`cache_speedup_short:.1f`× faster at
# {glue:text}`shortest` new tokens and {glue:text}`cache_speedup:.1f`× faster at
# {glue:text}`longest`. For texts this short a CPU spends much of each step on fixed costs
# (launching some hundred small operations per layer), which is why the gap is already large
# at a few tokens and widens more slowly than the $n^2$ argument suggests; for long texts the
# quadratic term dominates. The price of the cache is memory: it stores a key and a value
# vector per layer, key-value head and position.
#
# ## Summary
#
# - Temperature rescales log-odds: $T \to 0$ is greedy, $T \to \infty$ uniform, and the
#   entropy rises monotonically in between.
# - Top-k and top-p cut the tail and renormalise; top-p adapts the number of candidates to the
#   model's uncertainty, a fixed $k$ cannot.
# - Every knob trades diversity for likelihood; too little randomness loops, too much derails.
# - A from-scratch sampler with a KV cache keeps pace with the library; without the cache,
#   generation slows down quadratically.
