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
# # Scaling laws: a compute sweep on a laptop
#
# How much better does a language model get with more parameters, more data, more compute?
# Kaplan et al. (2020) and Hoffmann et al. (2022, "Chinchilla") answered with **scaling
# laws**: the validation loss falls as a power law in each resource, and for a fixed compute
# budget there is a best split between model size and training tokens. Those papers trained
# hundreds of models up to billions of parameters. This chapter runs the same experiment in
# miniature, for real, every time the book is built: a grid of tiny character-level
# transformers trained from scratch on real English, organised as IsoFLOP slices, fitted three
# ways, and set beside the published laws. It does not reproduce their numbers, and the point
# is to see why.

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
QUICK = True  # CI: 3 compute budgets and 8 model sizes, a few minutes on 2 CPU cores
SEED = 0
DEVICE = "cpu"  # "cuda" on a GPU machine (papermill -p DEVICE cuda)
THREADS = 1  # torch CPU threads; see the throughput section for why one
CORPUS = "wordnet"  # or, on Colab, a hub data set with a "text" column: "name" or "name:config"
BLOCK_SIZE = 64  # context length, characters
BATCH_SIZE = 8  # sequences per optimizer step
VAL_FRACTION = 0.05  # share of lines held out for validation
N_VAL_WINDOWS = 512  # validation windows of BLOCK_SIZE + 1 characters, the same for every run
BUDGETS = [3e10, 1e11, 3e11]  # training compute of the IsoFLOP slices in FLOPs, C ~ 6ND
SHAPES = ["1x12", "1x16", "1x24", "2x24", "2x32", "2x48", "3x64", "4x96"]  # layers x d_model
HEAD_DIM = 16  # attention heads per block: max(1, d_model // HEAD_DIM)
MIN_STEPS = 100  # runs with fewer optimizer steps are left out of a slice
MAX_STEPS = 10_000  # and so are runs with more
LR_WIDTH = 0.24  # peak learning rate is min(LR_CAP, LR_WIDTH / d_model)
LR_CAP = 1e-2
N_BOOT = 100  # bootstrap refits of the parametric law
ISO_WINDOW = 4  # runs per IsoFLOP slice in its parabola: the best one and its nearest sizes

# %%
import math
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support.chars import CharVocab
from support.corpora import wordnet_text
from support.plots import slider_figure
from support.report import glue
from support.scaling import (
    CHINCHILLA,
    EPOCH,
    KAPLAN,
    fit_chinchilla,
    fit_isoflop,
    fit_power_law,
    isoflop_plan,
    ngram_cross_entropy,
    run_sweep,
)
from support.tinylm import TinyLMConfig
from support.training import bits_per_character, eval_windows, matmul_flops_per_second, split_lines

if not QUICK:  # a GPU or a patient reader: wider budgets, bigger models, longer runs
    BUDGETS = [1e10, 3e10, 1e11, 3e11, 1e12, 3e12, 1e13]
    SHAPES = SHAPES + ["4x128", "6x192", "8x256"]
    MAX_STEPS, N_BOOT = 200_000, 400
if DEVICE == "cuda" and not torch.cuda.is_available():
    DEVICE = "cpu"
torch.set_num_threads(THREADS)
chapter_start = time.perf_counter()

# %% [markdown]
# ## The laws and what they measure
#
# The loss in every scaling law is the cross-entropy of the next token on held-out text, in
# nats per token (the first chapter's $L$). With one character per token, as here, bits per
# character are simply $L / \ln 2$; with byte-pair tokens of several characters, as in the
# papers, a loss per token is spread over several characters, so per-token losses of different
# tokenisers cannot be compared directly.
#
# Let $N$ be the number of **non-embedding parameters** (the weights of the transformer blocks,
# Kaplan et al.'s convention: embedding tables scale with the vocabulary, not with the model's
# ability) and $D$ the number of training tokens. A forward pass costs about $2N$ floating-point
# operations (FLOPs) per token and the backward pass twice that, so training costs
#
# $$ C \approx 6 N D \ \text{FLOPs}. $$
#
# **Kaplan et al. (2020)** fitted pure power laws: $L(N) = (N_c/N)^{\alpha_N}$ for models
# trained to convergence, $L(D) = (D_c/D)^{\alpha_D}$, with $\alpha_N \approx 0.076$ and
# $\alpha_D \approx 0.095$, and concluded that the compute-optimal model grows as
# $N_{\text{opt}} \propto C^{0.73}$: spend most of a bigger budget on a bigger model.
#
# **Hoffmann et al. (2022)** fitted a sum with an irreducible term,
#
# $$ L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}, $$
#
# with $E = 1.69$, $A = 406.4$, $B = 410.7$, $\alpha = 0.34$, $\beta = 0.28$. $E$ is the entropy
# of the text itself (no model beats it), the $A$ term is what a finite model cannot represent,
# the $B$ term what a finite sample cannot teach. Their three approaches gave
# $N_{\text{opt}} \propto C^{a}$ with $a \approx 0.46$ to $0.50$: parameters and tokens should
# grow *equally*, about 20 tokens per parameter, and Kaplan's larger exponent came partly from
# learning-rate schedules that were not shortened for short runs. **Besiroglu et al. (2024)**
# refitted data they reconstructed from Hoffmann et al.'s figure and found $E = 1.82$,
# $A = 482.0$, $B = 2085.4$, $\alpha = 0.348$, $\beta = 0.366$, so $a \approx 0.51$, in line
# with the other two approaches.
#
# ```{admonition} Exercise: the compute-optimal allocation
# Minimise $L(N, D) = E + A N^{-\alpha} + B D^{-\beta}$ subject to $6ND = C$. Show that
# $N_{\text{opt}} = G\,(C/6)^{a}$ and $D_{\text{opt}} = G^{-1}(C/6)^{b}$ with
# $a = \beta/(\alpha+\beta)$, $b = \alpha/(\alpha+\beta)$ and
# $G = (\alpha A / \beta B)^{1/(\alpha+\beta)}$. When is the number of tokens per parameter
# independent of $C$?
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# Substitute $D = C/(6N)$: $L(N) = E + A N^{-\alpha} + B\,(6N/C)^{\beta}$. Setting the
# derivative to zero,
#
# $$ -\alpha A N^{-\alpha-1} + \beta B \left(\tfrac{6}{C}\right)^{\beta} N^{\beta-1} = 0
#    \iff \alpha A N^{-\alpha} = \beta B D^{-\beta}, $$
#
# so at the optimum the model term and the data term are in the fixed ratio $\beta : \alpha$.
# Multiplying by $N^{\alpha}$ and using $D^{-\beta} = (6N/C)^{\beta}$ gives
# $N^{\alpha+\beta} = \frac{\alpha A}{\beta B}\,(C/6)^{\beta}$, i.e.
# $N_{\text{opt}} = G\,(C/6)^{\beta/(\alpha+\beta)}$, and
# $D_{\text{opt}} = C/(6N_{\text{opt}}) = G^{-1}(C/6)^{\alpha/(\alpha+\beta)}$. The second
# derivative is positive, so this is a minimum. The ratio
# $D_{\text{opt}}/N_{\text{opt}} = G^{-2}(C/6)^{(\alpha-\beta)/(\alpha+\beta)}$ is constant
# only when $\alpha = \beta$; with Chinchilla's $\alpha > \beta$ it grows slowly with $C$,
# which is why "20 tokens per parameter" is a rule of thumb for one range of budgets, not a law.
# ```

# %% [markdown]
# ## Data: WordNet, one character per token
#
# The corpus is every gloss and example sentence of WordNet 3.0, read at run time from the
# installed database. Whole lines are split at random into training and validation text, and
# the vocabulary is the characters of the training split plus three reserved tokens
# (`[PAD]`, `[MASK]`, `[UNK]`, used by the masked-LM chapter).

# %%
if CORPUS == "wordnet":
    text = wordnet_text()
else:  # Colab: a larger corpus from the hub, e.g. "Salesforce/wikitext:wikitext-103-raw-v1"
    from datasets import load_dataset

    name, _, config = CORPUS.partition(":")
    text = "\n".join(load_dataset(name, config or None, split="train")["text"])
train_text, val_text = split_lines(text, val_fraction=VAL_FRACTION, seed=SEED)
vocab = CharVocab.from_text(train_text)
train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
val_windows = eval_windows(val_ids, BLOCK_SIZE + 1, N_VAL_WINDOWS)
unigram = ngram_cross_entropy(train_ids, val_ids, vocab.vocab_size, order=1)
bigram = ngram_cross_entropy(train_ids, val_ids, vocab.vocab_size, order=2)
print(f"{len(text):,} characters, {text.count(chr(10)):,} lines; vocabulary {vocab.vocab_size}")
print(f"train {len(train_ids):,} / validation {len(val_ids):,} characters")
print(f"unigram {unigram:.3f} nats/char, bigram {bigram:.3f} nats/char")
print(repr(train_text[:300]))
glue("n_chars", len(text))
glue("n_train", len(train_ids))
glue("n_val", len(val_ids))
glue("vocab_size", vocab.vocab_size)
glue("uniform_nats", math.log(vocab.vocab_size))
glue("unigram_nats", unigram)
glue("bigram_nats", bigram)
glue("bigram_bpc", bits_per_character(bigram))

# %% [markdown]
# The corpus has {glue:text}`n_chars:,` characters; {glue:text}`n_train:,` are for training
# and {glue:text}`n_val:,` for validation, over {glue:text}`vocab_size` token ids. Two
# reference points without any network: guessing uniformly costs
# $\ln V =$ {glue:text}`uniform_nats:.2f` nats per character; character frequencies alone
# (a unigram model) cost {glue:text}`unigram_nats:.3f`, and the previous character (a bigram
# model) brings it to {glue:text}`bigram_nats:.3f` nats, {glue:text}`bigram_bpc:.2f` bits per
# character. A transformer earns its keep below the bigram line.
#
# ## The models and the sweep
#
# One architecture, `support.tinylm.TinyLM`: a GPT-2-style decoder (pre-LayerNorm blocks of
# multi-head causal self-attention and a 4x-wide MLP, tied input and output embeddings). Only
# depth and width change. Each block has $12 d^2 + 13 d$ parameters, so $N$ spans a wide range
# with small shapes:

# %%
layers_width = [tuple(int(v) for v in shape.split("x")) for shape in SHAPES]
configs = [
    TinyLMConfig(vocab.vocab_size, BLOCK_SIZE, L, max(1, d // HEAD_DIM), d) for L, d in layers_width
]
plan = isoflop_plan(
    BUDGETS, configs, batch_size=BATCH_SIZE, min_steps=MIN_STEPS, max_steps=MAX_STEPS
)
sizes = sorted({(p.config.n_layer, p.config.d_model, p.n_params) for p in plan}, key=lambda s: s[2])
print(f"{'layers':>6} {'d_model':>7} {'N (non-emb.)':>13} {'embedding':>10} {'peak LR':>8}")
for L, d, n in sizes:
    emb = (vocab.vocab_size + BLOCK_SIZE) * d
    print(f"{L:>6} {d:>7} {n:>13,} {emb:>10,} {min(LR_CAP, LR_WIDTH / d):>8.4f}")
print(
    f"\n{len(plan)} runs; steps per run {min(p.steps for p in plan)}-{max(p.steps for p in plan)}"
)
glue("n_runs", len(plan))
glue("n_sizes", len(sizes))
glue("n_min", sizes[0][2])
glue("n_max", sizes[-1][2])
glue("n_decades", math.log10(sizes[-1][2] / sizes[0][2]))
glue("n_budgets", len(BUDGETS))
glue("tokens_per_step", BATCH_SIZE * BLOCK_SIZE)
glue("n_val_windows", len(val_windows))
glue("n_boot", N_BOOT)

# %% [markdown]
# The sweep has {glue:text}`n_sizes` sizes from {glue:text}`n_min:,` to {glue:text}`n_max:,`
# non-embedding parameters ({glue:text}`n_decades:.1f` decades) and {glue:text}`n_budgets`
# compute budgets. For each budget $C$, every size is trained on $D = C / 6N$ tokens (rounded
# to whole steps of {glue:text}`tokens_per_step` characters), so each budget is an **IsoFLOP
# slice**: small models see many tokens, large ones few. Runs that would take fewer than
# `MIN_STEPS` steps (too short to learn) or more than `MAX_STEPS` (too slow here) are left out
# of a slice, so the slices slide towards larger models as the budget grows, as in Hoffmann et
# al.'s Figure 3. That leaves {glue:text}`n_runs` training runs.
#
# Every run starts from the same seed and uses AdamW with a linear warmup over the first 10%
# of its steps and a cosine decay to 10% of the peak *at its own last step*; Hoffmann et al.
# showed that a schedule longer than the run (as in Kaplan et al.) penalises short runs and
# biases the allocation towards big models. The peak learning rate shrinks with width, as
# Adam's stable step size does (Yang et al., 2022, "Tensor Programs V"); it was not tuned per
# run. All runs are scored on the same {glue:text}`n_val_windows` validation windows.

# %%
sweep_start = time.perf_counter()


def report(run):
    """Print one finished run."""
    print(
        f"C={run.budget:.0e}  N={run.n_params:>7,}  D={run.tokens:>9,}  steps={run.steps:>5}  "
        f"val={run.val_loss:.3f} nats  {run.train_seconds:6.1f} s  "
        f"{run.tokens_per_second:>7,.0f} tok/s"
    )


runs = run_sweep(
    plan,
    train_ids,
    val_windows,
    batch_size=BATCH_SIZE,
    max_lr=lambda cfg: min(LR_CAP, LR_WIDTH / cfg.d_model),
    seed=SEED,
    device=DEVICE,
    on_run=report,
)
sweep_seconds = time.perf_counter() - sweep_start
glue("sweep_minutes", sweep_seconds / 60)

# %%
results = pd.DataFrame(
    {
        "budget": [r.budget for r in runs],
        "N": [r.n_params for r in runs],
        "D": [r.tokens for r in runs],
        "C": [r.flops for r in runs],
        "C_counted": [r.flops_counted for r in runs],
        "val_loss": [r.val_loss for r in runs],
        "train_loss": [r.train_loss for r in runs],
        "tokens_per_s": [r.tokens_per_second for r in runs],
        "flops_per_s": [r.flops_per_second for r in runs],
    }
)
results["tokens_per_param"] = results.D / results.N
results["bits_per_char"] = bits_per_character(results.val_loss.to_numpy())
best = results.loc[results.groupby("budget").val_loss.idxmin()]
epochs = results.D.max() / len(train_ids)
glue("best_loss", float(results.val_loss.min()))
glue("best_bpc", float(results.bits_per_char.min()))
glue("max_epochs", epochs)
glue(
    "repeat_note",
    "repetition, which Muennighoff et al. (2023) show lowers the value of extra tokens, "
    "hardly matters here"
    if epochs < 1
    else "the longest runs repeat the corpus, and repeated tokens are worth less than fresh ones "
    "(Muennighoff et al., 2023), which flattens the data term",
)
gap = float((results.val_loss - results.train_loss).max())
glue("max_gap", gap)
glue(
    "gap_note",
    "no run overfits: every run is limited by its budget, not by its data"
    if gap < 0.05
    else "the largest gap belongs to a run that starts to fit its training windows",
)
best.round(3)

# %% [markdown]
# The table shows the best run of each slice. The lowest validation loss of the sweep is
# {glue:text}`best_loss:.3f` nats, {glue:text}`best_bpc:.2f` bits per character. The longest
# run draws {glue:text}`max_epochs:.2f` epochs' worth of characters (random windows, so a few
# overlap), and validation loss exceeds the final training loss by at most
# {glue:text}`max_gap:.3f` nats: {glue:text}`gap_note`.
#
# ## Fit 2 first: IsoFLOP parabolas
#
# Hoffmann et al.'s **Approach 2** reads the optimum straight off the sweep: within a slice,
# loss against $\ln N$ is roughly a parabola; its minimum is the compute-optimal size for that
# budget.

# %%
iso = fit_isoflop(results.budget, results.N, results.val_loss, window=ISO_WINDOW)
colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
fig = go.Figure()
for i, budget in enumerate(iso.budgets):
    sl = results[results.budget == budget]
    colour = colours[i % len(colours)]
    used = iso.used[results.budget.to_numpy() == budget]
    grid = np.geomspace(sl.N[used].min() / 1.3, sl.N[used].max() * 1.3, 60)
    fig.add_scatter(x=sl.N, y=sl.val_loss, mode="markers", name=f"C = {budget:.0e} FLOPs",
                    marker={"color": colour, "size": 9,
                            "symbol": ["circle" if u else "circle-open" for u in used]},
                    legendgroup=str(i))  # fmt: skip
    fig.add_scatter(x=grid, y=np.polyval(iso.coefs[i], np.log(grid)), mode="lines",
                    line={"color": colour, "dash": "dot"}, showlegend=False,
                    legendgroup=str(i))  # fmt: skip
    if np.isfinite(iso.n_opt[i]):
        fig.add_scatter(x=[iso.n_opt[i]], y=[iso.loss_opt[i]], mode="markers",
                        marker={"color": colour, "symbol": "star", "size": 16},
                        showlegend=False, legendgroup=str(i))  # fmt: skip
fig.add_hline(y=bigram, line_dash="dash", annotation_text="bigram model")
fig.update_layout(
    title="IsoFLOP slices: validation loss against model size at fixed compute",
    xaxis={"title": "non-embedding parameters N", "type": "log"},
    yaxis={
        "title": "validation loss (nats per character)",
        "range": [results.val_loss.min() - 0.15, results.val_loss.max() + 0.15],
    },
    height=480,
)
fig.show()

# %% [markdown]
# Each colour is one compute budget; dots are runs, the dotted curve is the parabola in
# $\ln N$ fitted to the filled dots (each slice's best run and its nearest sizes), the star its
# minimum (when the parabola opens upwards). Left of the star a model is too small to use its
# tokens; right of it a model is too big to be trained by so few tokens. Moving to a bigger
# budget moves the valley right and down.

# %%
nan = float("nan")
interior = int(iso.interior.sum())
glue("iso_a", iso.a)
glue("iso_b", iso.b)
glue("iso_interior", interior)
ratio_opt = iso.d_opt / iso.n_opt
finite_ratio = ratio_opt[np.isfinite(ratio_opt)] if np.isfinite(ratio_opt).any() else [nan]
glue("iso_ratio_low", float(np.min(finite_ratio)))
glue("iso_ratio_high", float(np.max(finite_ratio)))
glue(
    "iso_edge_note",
    "every minimum lies inside the sizes its slice sampled"
    if interior == len(iso.budgets)
    else f"only {interior} of {len(iso.budgets)} minima lie inside the sampled sizes; the others "
    "are extrapolations and the exponent inherits their uncertainty",
)
pd.DataFrame(
    {
        "C (FLOPs)": iso.budgets,
        "N_opt": iso.n_opt,
        "D_opt": iso.d_opt,
        "D/N": ratio_opt,
        "loss at optimum": iso.loss_opt,
        "inside sampled range": iso.interior,
    }  # fmt: skip
).round(3)

# %% [markdown]
# Fitting $\ln N_{\text{opt}}$ and $\ln D_{\text{opt}}$ against $\ln C$ gives
# $N_{\text{opt}} \propto C^{a}$ with $a =$ {glue:text}`iso_a:.2f` and
# $D_{\text{opt}} \propto C^{b}$ with $b =$ {glue:text}`iso_b:.2f` (they add to one because
# $6 N_{\text{opt}} D_{\text{opt}} = C$ at every slice); {glue:text}`iso_edge_note`. The
# compute-optimal runs see between {glue:text}`iso_ratio_low:.0f` and
# {glue:text}`iso_ratio_high:.0f` tokens per parameter. With only a few budgets spanning one
# decade of compute, $a$ rests on a handful of points: treat its second digit as noise.
#
# ## Fit 1: the Chinchilla parametric law
#
# **Approach 3** fits $L(N, D) = E + A/N^\alpha + B/D^\beta$ to every run at once, the way
# Hoffmann et al. did: minimise the Huber loss ($\delta = 10^{-3}$) between the logarithms of
# predicted and measured loss, with L-BFGS started from their grid of 4500 initial values
# (here from the 64 best points of that grid). The Huber loss keeps a few odd runs from
# dominating; the log makes the fit care about relative, not absolute, errors. Uncertainty
# comes from a bootstrap: resample the runs with replacement, refit, repeat
# {glue:text}`n_boot` times.

# %%
fit_start = time.perf_counter()
chin = fit_chinchilla(results.N, results.D, results.val_loss, n_boot=N_BOOT, seed=SEED)
fit_seconds = time.perf_counter() - fit_start
ours = chin.law
pred = ours.loss(results.N.to_numpy(), results.D.to_numpy())
rms = float(np.sqrt(np.mean((np.log(pred) - np.log(results.val_loss)) ** 2)))
rows = []
for p in ["E", "A", "B", "alpha", "beta", "a", "b"]:
    low, high = chin.interval(p)
    rows.append({"parameter": p, "this sweep": getattr(ours, p), f"{chin.confidence:.0%} low": low,
                 f"{chin.confidence:.0%} high": high, "Chinchilla": getattr(CHINCHILLA, p),
                 "Epoch": getattr(EPOCH, p)})  # fmt: skip
for p in ["E", "A", "B", "alpha", "beta", "a", "b"]:
    glue(f"fit_{p}", float(getattr(ours, p)))
    glue(f"fit_{p}_low", chin.interval(p)[0])
    glue(f"fit_{p}_high", chin.interval(p)[1])
glue("fit_rms_pct", 100 * rms)
glue(
    "fit_E_note",
    "The fit puts the floor E at essentially zero: within our sweep the loss shows no sign of "
    "levelling off, so the runs cannot tell an irreducible entropy apart from slowly falling "
    "power-law terms, and the exponents it finds are those of a law without a floor."
    if ours.E < 0.1
    else "Our E is in nats per character and is not comparable with the papers' E per "
    "byte-pair token.",
)
glue("fit_seconds", fit_seconds)
pd.DataFrame(rows).set_index("parameter").round(4)

# %% [markdown]
# Our fit: $E =$ {glue:text}`fit_E:.3f`, $\alpha =$ {glue:text}`fit_alpha:.3f`
# ({glue:text}`fit_alpha_low:.2f` to {glue:text}`fit_alpha_high:.2f`), $\beta =$
# {glue:text}`fit_beta:.3f` ({glue:text}`fit_beta_low:.2f` to {glue:text}`fit_beta_high:.2f`),
# hence $a = \beta/(\alpha+\beta) =$ {glue:text}`fit_a:.2f` ({glue:text}`fit_a_low:.2f` to
# {glue:text}`fit_a_high:.2f`). The law reproduces the measured losses with a root-mean-square
# error of {glue:text}`fit_rms_pct:.1f`% (in log space). The bootstrap intervals are wide
# where a parameter is poorly pinned down by a small sweep: $E$, $A$ and $\alpha$ trade off
# against each other when the sizes span only a couple of decades, which is exactly the
# difficulty Besiroglu et al. reported with the published fit. {glue:text}`fit_E_note`
#
# The next figure shows the fitted law against the runs: each curve is one model size, loss
# against training tokens, with the runs as dots.

# %%
fig = go.Figure()
for i, (_, _, n) in enumerate(sizes):
    sl = results[results.N == n]
    colour = colours[i % len(colours)] if i < len(colours) else "#7f7f7f"
    grid = np.geomspace(results.D.min() / 2, results.D.max() * 2, 80)
    fig.add_scatter(x=sl.D, y=sl.val_loss, mode="markers", marker={"color": colour, "size": 9},
                    name=f"N = {n:,}", legendgroup=str(n))  # fmt: skip
    fig.add_scatter(x=grid, y=ours.loss(n, grid), mode="lines", line={"color": colour},
                    showlegend=False, legendgroup=str(n))  # fmt: skip
fig.update_layout(
    title="Fitted L(N, D) = E + A/N^α + B/D^β against the runs",
    xaxis={"title": "training tokens D (characters)", "type": "log"},
    yaxis={
        "title": "validation loss (nats per character)",
        "range": [results.val_loss.min() - 0.25, unigram + 0.3],
    },
    height=500,
)
fig.show()

# %% [markdown]
# Each colour is one model size; the line is what the fitted law predicts for that size as
# data grows, flattening towards $E + A/N^\alpha$, the best that size can ever do. Where dots
# fall far from their line, the smooth law does not describe the run: typically the largest
# models on their shortest runs, which are still in the fast early phase of training.
#
# ## Fit 3: Kaplan's power laws
#
# Kaplan et al.'s $L(N) = (N_c/N)^{\alpha_N}$ describes models trained on enough data to
# converge, so that only their size limits them. Our closest stand-in is each size's longest
# run (the most tokens it saw in the sweep). For the biggest sizes even that run is short:
# below `KAPLAN_MIN_RATIO` tokens per parameter a model is data-starved by Chinchilla's own
# rule of thumb, let alone converged, so those points are shown but left out of the fit.

# %%
KAPLAN_MIN_RATIO = 20  # tokens per parameter; fewer means the size is limited by data, not N
longest = results.loc[results.groupby("N").D.idxmax()].sort_values("N")
converged = longest.tokens_per_param >= KAPLAN_MIN_RATIO
kap = fit_power_law(longest.N[converged], longest.val_loss[converged])
frontier = fit_power_law(iso.budgets, iso.loss_opt)  # L at each slice's optimum against C
glue("kaplan_alpha", kap.alpha)
glue("kaplan_r2", kap.r2)
glue("kaplan_n_fit", int(converged.sum()))
glue("kaplan_n_all", len(longest))
glue("kaplan_alpha_c", frontier.alpha)
n_grid = np.geomspace(longest.N.min() / 2, longest.N.max() * 2, 50)
fig = go.Figure()
symbols_k = ["circle" if c else "circle-open" for c in converged]
hover_k = [f"D = {d:,} tokens, {r:.0f} per parameter" for d, r in zip(longest.D,
           longest.tokens_per_param, strict=True)]  # fmt: skip
fig.add_scatter(x=longest.N, y=longest.val_loss, mode="markers", name="longest run per size",
                marker={"size": 10, "symbol": symbols_k}, text=hover_k)  # fmt: skip
fig.add_scatter(x=n_grid, y=kap.predict(n_grid), mode="lines",
                name=f"fit to filled dots: L = (N_c/N)^{kap.alpha:.3f}")  # fmt: skip
fig.update_layout(
    title="Kaplan form L(N) = (N_c / N)^α_N on the longest run of each size",
    xaxis={"title": "non-embedding parameters N", "type": "log"},
    yaxis={"title": "validation loss (nats per character)", "type": "log"},
    height=440,
)
fig.show()

# %% [markdown]
# On log-log axes a pure power law is a straight line. Fitted to the {glue:text}`kaplan_n_fit`
# filled dots (of {glue:text}`kaplan_n_all` sizes), the slope is $\alpha_N =$
# {glue:text}`kaplan_alpha:.3f` ($R^2 =$ {glue:text}`kaplan_r2:.2f`), against Kaplan et al.'s
# 0.076. The open dots, the big models, sit far above the line: they saw too few tokens to show
# what their size could do. Hover over a dot for its token count. Kaplan et al. also fitted
# the loss along the compute-efficient frontier, $L(C) \propto C^{-\alpha_C}$ with
# $\alpha_C \approx 0.050$; through our IsoFLOP minima the same form gives
# $\alpha_C =$ {glue:text}`kaplan_alpha_c:.3f`, from only three budgets.
#
# ## Side by side with the published laws
#
# The exponents of the three published laws and of our three fits:

# %%
pd.DataFrame(
    [
        ("Kaplan et al. 2020", KAPLAN.alpha_n, KAPLAN.alpha_d, KAPLAN.n_opt_exponent),
        ("Chinchilla, Approach 3 (Approaches 1, 2: a = 0.50, 0.49)", CHINCHILLA.alpha,
         CHINCHILLA.beta, CHINCHILLA.a),
        ("Epoch replication (Besiroglu et al. 2024)", EPOCH.alpha, EPOCH.beta, EPOCH.a),
        ("this sweep: L(N, D) fit", ours.alpha, ours.beta, ours.a),
        ("this sweep: IsoFLOP parabolas", nan, nan, iso.a),
        ("this sweep: Kaplan form in N", kap.alpha, nan, nan),
    ],
    columns=["law", "alpha (or alpha_N)", "beta (or alpha_D)", "a in N_opt ~ C^a"],
).set_index("law").round(3)  # fmt: skip

# %% [markdown]
# Kaplan's $\alpha_N$ and Chinchilla's $\alpha$ are different quantities: the first is the
# slope of the whole loss with no floor, the second the slope of the reducible part above $E$.
# A power law with a floor looks much shallower when the floor is not subtracted, which is
# most of the gap between 0.076 and 0.34.
#
# The slider moves the compute budget across fourteen decades, from our sweep to frontier
# training runs. At each budget every law proposes a model size and a token count on the line
# $6ND = C$; the dotted line marks 20 tokens per parameter.

# %%
laws = {}  # our fits join only if they have an optimum (positive exponents)
if ours.alpha > 0 and ours.beta > 0:
    laws["this sweep (parametric)"] = ours.compute_optimal
if np.isfinite(iso.a):
    laws["this sweep (IsoFLOP)"] = lambda c: (iso.n_opt_at(c), iso.d_opt_at(c), nan)
laws |= {
    "Chinchilla": CHINCHILLA.compute_optimal,
    "Epoch": EPOCH.compute_optimal,
    "Kaplan": KAPLAN.compute_optimal,
}
symbols = ["circle", "diamond", "square", "triangle-up", "x"]
budgets_shown = [10.0**k for k in range(10, 25)]
steps, labels, titles = [], [], []
n_axis = np.geomspace(1e2, 1e14, 50)
for c in budgets_shown:
    traces = [go.Scatter(x=n_axis, y=c / (6 * n_axis), mode="lines", line={"color": "#bbbbbb"},
                         name="6ND = C"),
              go.Scatter(x=n_axis, y=20 * n_axis, mode="lines", name="D = 20 N",
                         line={"color": "#999999", "dash": "dot"})]  # fmt: skip
    for (label, law), symbol, colour in zip(laws.items(), symbols, colours, strict=False):
        n, d, loss = law(c)
        hover = f"{label}<br>N = {n:.3g}<br>D = {d:.3g}<br>D/N = {d / n:.3g}<br>L = {loss:.3f}"
        traces.append(go.Scatter(x=[n], y=[d], mode="markers", name=label, hovertext=hover,
                                 hoverinfo="text", marker={"size": 13, "symbol": symbol,
                                                           "color": colour}))  # fmt: skip
    steps.append(traces)
    labels.append(f"1e{round(math.log10(c))}")
    n_c, d_c, _ = CHINCHILLA.compute_optimal(c)
    titles.append(f"C = {c:.0e} FLOPs: Chinchilla's optimum N = {n_c:.2g}, D = {d_c:.2g}, "
                  f"D/N = {d_c / n_c:.0f}")  # fmt: skip
fig = slider_figure(
    steps,
    labels,
    titles,
    slider_prefix="compute budget C = ",
    active=1,
    layout={
        "xaxis": {
            "title": "model size N (non-embedding parameters)",
            "type": "log",
            "range": [2, 14],
        },
        "yaxis": {"title": "training tokens D", "type": "log", "range": [3, 15]},
        "height": 560,
    },  # fmt: skip
)
fig.show()
for key, law in [("chin", CHINCHILLA), ("epoch", EPOCH), ("kaplan", KAPLAN)]:
    n_all, d_all, _ = law.compute_optimal(np.array(budgets_shown))
    glue(f"{key}_ratio_low", float(np.min(d_all / n_all)))
    glue(f"{key}_ratio_high", float(np.max(d_all / n_all)))
    glue(f"{key}_ratio_1e24", float(d_all[-1] / n_all[-1]))

# %% [markdown]
# Every marker lies on the grey line $6ND = C$: the laws agree on the budget and disagree on
# how to split it. Hover over a marker for its $N$, $D$, tokens per parameter and predicted
# loss (nats per token of that law's own data and tokeniser, so only the published laws'
# losses are comparable with each other). Across the slider's range Kaplan's law goes from
# absurdly many tokens per parameter at small budgets (it was fitted far above them) to
# {glue:text}`kaplan_ratio_1e24:.2f` at $10^{24}$ FLOPs; Chinchilla's Approach 3 law climbs from
# {glue:text}`chin_ratio_low:.0f` to {glue:text}`chin_ratio_high:.0f` (its $\alpha > \beta$),
# Epoch's refit stays between {glue:text}`epoch_ratio_low:.0f` and
# {glue:text}`epoch_ratio_high:.0f`, closest to the famous 20 that came from Hoffmann et al.'s
# Approaches 1 and 2. Our two fits are extrapolated many decades beyond the sweep, so far to the
# right their positions say more about the exponents' uncertainty than about frontier models.

# %%
table = []
for c in [BUDGETS[0], BUDGETS[-1], 5.76e23]:
    for label, law in laws.items():
        n, d, loss = law(c)
        table.append({"C (FLOPs)": f"{c:.2e}", "law": label, "N_opt": n, "D_opt": d,
                      "tokens per parameter": d / n, "predicted loss": loss})  # fmt: skip
ratios = pd.DataFrame(table)
top = laws.get("this sweep (parametric)", lambda c: (nan, nan, nan))(BUDGETS[-1])
glue("ours_ratio_top", float(top[1] / top[0]))
glue("chin_ratio_top", float(CHINCHILLA.compute_optimal(BUDGETS[-1])[1]
                             / CHINCHILLA.compute_optimal(BUDGETS[-1])[0]))  # fmt: skip
glue("chin_n_at_own", float(CHINCHILLA.compute_optimal(5.76e23)[0]))
ratios.round(3)

# %% [markdown]
# At our largest budget the parametric fit prefers {glue:text}`ours_ratio_top:.0f` tokens per
# parameter, where Chinchilla's law would say {glue:text}`chin_ratio_top:.0f`. The last rows use
# the budget Chinchilla itself was trained with, $5.76 \times 10^{23}$ FLOPs; Hoffmann et al.'s
# own Approach 3 law puts the optimum at {glue:text}`chin_n_at_own:.2e` parameters, below the
# 70 billion they trained (their Approaches 1 and 2 pointed higher).
#
# ## Throughput
#
# How fast did the machine learn? For each model size: training tokens per second, and the
# achieved rate of floating-point work, counting every matrix product of the forward and
# backward passes (attention and output layer included). The reference is the rate of a large
# dense matrix product measured on the same threads, a practical ceiling for this CPU.

# %%
peak = matmul_flops_per_second(1024, repeats=5, device=DEVICE)
speed = results.groupby("N")[["tokens_per_s", "flops_per_s"]].median().reset_index()
speed["fraction_of_matmul_peak"] = speed.flops_per_s / peak
fig = go.Figure()
fig.add_scatter(x=speed.N, y=speed.flops_per_s / 1e9, mode="lines+markers", name="training",
                text=[f"{t:,.0f} tokens/s" for t in speed.tokens_per_s])  # fmt: skip
fig.add_scatter(x=[speed.N.min(), speed.N.max()], y=[peak / 1e9] * 2, mode="lines",
                line={"dash": "dash", "color": "#444444"},
                name="dense 1024x1024 matmul")  # fmt: skip
fig.update_layout(
    title=f"Achieved training FLOP/s by model size ({THREADS} thread(s), {DEVICE})",
    xaxis={"title": "non-embedding parameters N", "type": "log"},
    yaxis={"title": "achieved GFLOP/s (1e9 FLOPs per second)", "type": "log"},
    height=420,
)
fig.show()
glue("peak_gflops", peak / 1e9)
glue("small_tok_s", float(speed.tokens_per_s.iloc[0]))
glue("large_tok_s", float(speed.tokens_per_s.iloc[-1]))
glue("small_frac_pct", float(100 * speed.fraction_of_matmul_peak.iloc[0]))
glue("large_frac_pct", float(100 * speed.fraction_of_matmul_peak.iloc[-1]))
glue("sweep_pflop", float(results.C.sum() / 1e15))
glue("chinchilla_over_sweep", 5.76e23 / float(results.C.sum()))
flops_ratio = (results.C_counted / results.C).groupby(results.N).mean()
glue("flops_ratio_small", float(flops_ratio.iloc[0]))
glue("flops_ratio_large", float(flops_ratio.iloc[-1]))
a_mid = np.nanmean([iso.a, ours.a])
glue(
    "a_direction",
    "well above" if a_mid > 0.6 else "well below" if a_mid < 0.4 else "close to",
)
speed.round(3)

# %% [markdown]
# The smallest model processes {glue:text}`small_tok_s:,.0f` tokens per second but reaches only
# {glue:text}`small_frac_pct:.1f`% of the matmul rate of {glue:text}`peak_gflops:.0f` GFLOP/s;
# the largest, {glue:text}`large_tok_s:,.0f` tokens per second at
# {glue:text}`large_frac_pct:.0f`%. Hover over a point for its tokens per second. Tiny models
# are dominated by fixed per-step costs (Python, kernel launches, the optimizer's loop over
# tensors) rather than arithmetic; splitting such small matrices over two threads mostly adds
# hand-offs, which is why the chapter uses one thread by default. The whole sweep did
# {glue:text}`sweep_pflop:.2f` PFLOPs of $6ND$ work in {glue:text}`sweep_minutes:.1f` minutes;
# Chinchilla's final training run ($5.76 \times 10^{23}$ FLOPs) was
# {glue:text}`chinchilla_over_sweep:.1e` times more.
#
# ## Why our exponents differ
#
# Nothing here was tuned to agree with the papers. Our compute-optimal exponent is
# {glue:text}`a_direction` Chinchilla's $a \approx 0.5$ (IsoFLOP {glue:text}`iso_a:.2f`,
# parametric fit {glue:text}`fit_a:.2f`; Kaplan et al. had 0.73). Several known effects pull
# a small sweep that way, and they are the same ones later work found behind Kaplan's number:
#
# - **Optimisation-limited runs.** At the smallest budget the larger models get only a few
#   hundred optimizer steps; their loss says how far the optimiser got, not what the model could
#   represent. As the budget grows they get enough steps and overtake the small models quickly,
#   so $N_{\text{opt}}$ climbs steeply with $C$. Hoffmann et al. traced part of Kaplan's
#   exponent to the same kind of effect (schedules not matched to run length); here the cause is
#   simply too few steps. The learning rate follows a rule, not a per-run search.
# - **Compute accounting.** $C = 6ND$ ignores the output layer and attention. For our smallest
#   model the FLOPs actually spent per token are {glue:text}`flops_ratio_small:.1f` times the
#   $6N$ count, for the largest {glue:text}`flops_ratio_large:.2f` times: small models were
#   charged too little, which favours them at small budgets and steepens $a$. Porian et al.
#   (2024, "Resolving discrepancies in compute-optimal scaling of language models") found this
#   last-layer cost, overly long warmup for small models, and optimizer settings not tuned per
#   scale to account for most of the Kaplan-Chinchilla gap.
# - **Scale.** Our models have thousands to hundreds of thousands of parameters and budgets
#   below $10^{12}$ FLOPs, about twelve decades below Chinchilla. At this size the loss curves
#   still carry the bends of early training (the drop from the unigram level to below the bigram
#   level happens *within* our sweep), which a three-term power law only approximates, and the
#   fit cannot see a floor $E$.
# - **Data and tokenisation.** Our runs read at most {glue:text}`max_epochs:.2f` epochs' worth
#   of characters: {glue:text}`repeat_note`. WordNet is also a small, definition-style corpus
#   with its own entropy and exponents. One character per token keeps the vocabulary tiny (so
#   $N$ means what Kaplan counts), but a character carries less information than a byte-pair
#   token: $E$, $A$, $B$ are in different units from the papers', and only exponents can be
#   compared at all.
# - **Few budgets.** Exponents fitted to three budgets in one decade have wide intervals; the
#   bootstrap intervals above are the honest error bars.
#
# ## Running it bigger
#
# Set `QUICK = False` (seven budgets from $10^{10}$ to $10^{13}$ FLOPs, sizes up to about six
# million parameters) and `DEVICE = "cuda"` on a GPU, e.g.
# `papermill 03_scaling_laws.ipynb out.ipynb -p QUICK False -p DEVICE cuda`; on Colab, a larger
# `CORPUS` from the hub avoids repeating WordNet once runs exceed its size. Expect the
# exponents to move as the range widens; that movement is itself the lesson of Hoffmann et al.
# versus Kaplan et al.

# %%
glue("chapter_minutes", (time.perf_counter() - chapter_start) / 60)
print(f"sweep {sweep_seconds / 60:.1f} min, parametric fit {fit_seconds:.1f} s, "
      f"chapter {(time.perf_counter() - chapter_start) / 60:.1f} min")  # fmt: skip
