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
# # Masked language models: predicting a token from both sides
#
# A causal language model reads left to right and predicts the next token. BERT (Devlin et
# al., 2019) changed one thing: hide some tokens and predict them from *everything else*, left
# and right. This chapter builds that objective, trains the same tiny transformer both ways on
# the same text with the same compute, and then looks inside a pretrained BERT-architecture
# encoder to see what bidirectional training buys: **contextual embeddings**, one vector per
# word *occurrence*, which can tell the river bank from the money bank.

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
QUICK = True  # CI runs QUICK: fewer training steps, lemmas and evaluation windows
SEED = 0
ENCODER = "all-minilm-l6-v2"  # packaged offline; a BERT-style hub id also works in Colab
FILL_MASK_MODEL = None  # e.g. "bert-base-uncased" in Colab: a real pretrained MLM head
TINY = {"d_model": 64, "n_layer": 2, "n_head": 4, "block_size": 16, "batch_size": 64}

# %%
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support import mlm
from support.chars import CharVocab
from support.corpora import polysemous_examples, wordnet_text
from support.models import load_encoder
from support.plots import interval_error_y, slider_figure
from support.report import glue
from support.stats import bootstrap_ci
from support.training import eval_windows, split_lines

# Sizes follow QUICK here (not in the parameters cell) so that papermill's QUICK=False counts.
TINY_STEPS = 2000 if QUICK else 12000  # optimiser steps for each tiny model
EVAL_WINDOWS = 400 if QUICK else 2000  # held-out windows scored by both tiny models
WIC_LEMMAS = 300 if QUICK else None  # lemmas in the word-in-context set (None: all)
HEAD_STEPS = 150 if QUICK else 1500  # steps of the MLM head on the frozen encoder
HEAD_TEXTS = 1500 if QUICK else 20000  # sentences masked once to fit the head
torch.manual_seed(SEED)

# %% [markdown]
# ## Two objectives for one network
#
# Write a text as tokens $x_1, \dots, x_T$. A **causal** language model factorises the
# probability of the whole text by the chain rule and is trained to predict each token from
# the ones before it:
#
# $$ \mathcal{L}_{\text{causal}} = -\frac{1}{T} \sum_{t=1}^{T} \ln p_\theta(x_t \mid x_{<t}). $$
#
# A **masked** language model picks a random set $M$ of positions, corrupts the text into
# $\tilde{x}$ (the tokens at $M$ are hidden), and is trained to restore them from the whole
# corrupted text, both sides included:
#
# $$ \mathcal{L}_{\text{MLM}} = -\frac{1}{|M|} \sum_{t \in M} \ln p_\theta(x_t \mid \tilde{x}). $$
#
# The architecture can be identical; only the **attention mask** differs. In a causal model
# position $t$ may attend to positions $1..t$; in a masked model every position attends to
# every position. Two consequences follow. The causal model defines a proper distribution over
# whole texts, so it can *generate* by sampling one token at a time. The masked model never
# learns such a factorisation, but every one of its hidden vectors is computed from the whole
# sentence, which is what an *embedding* of a word in context should be.
#
# ## BERT's masking recipe
#
# BERT chooses 15% of the (non-special) positions. Of those, 80% are replaced by `[MASK]`,
# 10% by a random token and 10% are left unchanged; the loss is computed on the chosen
# positions only. The random and unchanged tokens matter: if the model only had to work where
# it sees `[MASK]`, it could neglect the vectors of all other tokens, and `[MASK]` never occurs
# when the encoder is later used on real text. Here is one corruption of one sentence, with the
# tokenizer of the pretrained encoder used later in the chapter.

# %%
encoder = load_encoder(ENCODER)
tok = encoder.tokenizer
sentence = "the bank of the river was muddy after the heavy autumn rains"
ids = torch.tensor([tok(sentence)["input_ids"]])
corrupted = mlm.bert_mask(
    ids,
    mask_token_id=tok.mask_token_id,
    vocab_size=len(tok),
    special_token_ids=tok.all_special_ids,
    mask_prob=0.3,  # more than 15% so that one short sentence shows every case
    generator=torch.Generator().manual_seed(SEED + 3),
)
action_name = {0: "", 1: "-> [MASK]", 2: "-> random", 3: "kept"}
print(f"{'token':>10}  {'model reads':>12}  {'label':>8}  what happened")
for t, x, y, a in zip(
    ids[0], corrupted.input_ids[0], corrupted.labels[0], corrupted.action[0], strict=True
):
    label = tok.convert_ids_to_tokens(int(y)) if y != mlm.IGNORE_INDEX else "-"
    shown = tok.convert_ids_to_tokens(int(x))
    print(
        f"{tok.convert_ids_to_tokens(int(t)):>10}  {shown:>12}  {label:>8}  {action_name[int(a)]}"
    )

# %% [markdown]
# `[CLS]` and `[SEP]` are never chosen, and the label column is empty (ignored by the loss)
# everywhere else. The proportions only hold on average; over a large batch of real text they
# come out as follows.

# %%
texts = wordnet_text().splitlines()
rng = np.random.default_rng(SEED)
sample = [texts[i] for i in rng.choice(len(texts), size=2000, replace=False)]
batch = tok(sample, padding=True, truncation=True, max_length=64, return_tensors="pt")
masked_batch = mlm.bert_mask(
    batch["input_ids"],
    mask_token_id=tok.mask_token_id,
    vocab_size=len(tok),
    special_token_ids=tok.all_special_ids,
    generator=torch.Generator().manual_seed(SEED),
)
eligible = ~torch.isin(batch["input_ids"], torch.tensor(tok.all_special_ids))
chosen = masked_batch.chosen
shares = {
    "chosen": chosen.sum().item() / eligible.sum().item(),
    "masked": (masked_batch.action == mlm.MASKED).sum().item() / chosen.sum().item(),
    "random": (masked_batch.action == mlm.RANDOM).sum().item() / chosen.sum().item(),
    "kept": (masked_batch.action == mlm.KEPT).sum().item() / chosen.sum().item(),
}
glue("n_eligible", int(eligible.sum()))
for name, value in shares.items():
    glue(f"share_{name}", value)
print({k: round(v, 4) for k, v in shares.items()})

# %% [markdown]
# Of {glue:text}`n_eligible` ordinary tokens, {glue:text}`share_chosen:.3f` were chosen; of
# the chosen ones {glue:text}`share_masked:.3f` became `[MASK]`, {glue:text}`share_random:.3f`
# a random token and {glue:text}`share_kept:.3f` stayed: the 15% / 80-10-10 recipe, up to
# sampling noise. The unit tests check these proportions with a chi-square test, and check that
# special tokens are never chosen and that the loss ignores every unchosen position.
#
# ## The same tiny transformer, trained both ways
#
# The scaling chapter's tiny transformer has one switch, `causal`. We train two copies on the
# characters of WordNet's glosses and examples: same architecture, same initial weights, same
# number of steps, same batch of windows per step, hence the same number of tokens read and the
# same compute. One predicts the next character; the other restores BERT-masked characters.
# Their attention masks are the only architectural difference:

# %%
n_show = 12
fig = make_subplots(
    rows=1,
    cols=2,
    subplot_titles=("causal: query i reads keys 0..i", "masked (bidirectional): all keys"),
    horizontal_spacing=0.12,
)
for col, causal in enumerate((True, False), start=1):
    allowed = mlm.attention_mask_matrix(n_show, causal=causal).int().numpy()
    fig.add_trace(
        go.Heatmap(
            z=allowed,
            x=list(range(n_show)),
            y=list(range(n_show)),
            colorscale=[[0, "#f0f0f0"], [1, "#1f77b4"]],
            showscale=False,
            hovertemplate="query %{y}, key %{x}: %{z}<extra></extra>",
        ),
        row=1,
        col=col,
    )
    fig.update_xaxes(title_text="key position (token index)", row=1, col=col)
    fig.update_yaxes(
        title_text="query position (token index)", autorange="reversed", row=1, col=col
    )
fig.update_layout(title="Attention masks of the two tiny models (blue: may attend)", height=430)
fig.show()

# %% [markdown]
# Blue cells are the keys a query position may read. The causal model's row $i$ stops at the
# diagonal; the masked model's rows are full, so position 5 can use positions 6 to 11 as well.

# %%
train_text, val_text = split_lines(wordnet_text(), val_fraction=0.05, seed=SEED)
vocab = CharVocab.from_text(train_text)
train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
windows = eval_windows(val_ids, TINY["block_size"], EVAL_WINDOWS)
middle = TINY["block_size"] // 2


def middle_accuracy_of(objective):
    """An eval_fn: top-1 accuracy on the middle character of the held-out windows."""

    def evaluate(model):
        model.eval()
        if objective == "causal":
            lp = mlm.next_token_logprobs(model, windows, middle)
        else:
            lp = mlm.masked_position_logprobs(model, windows, middle, mask_id=vocab.mask_id)
        return float(mlm.prediction_scores(lp, windows[:, middle])["correct"].mean())

    return evaluate


tiny, runs = {}, {}
for objective in mlm.OBJECTIVES:
    tiny[objective], runs[objective] = mlm.train_tiny_lm(
        objective,
        train_ids,
        vocab,
        steps=TINY_STEPS,
        eval_fn=middle_accuracy_of(objective),
        eval_every=max(1, TINY_STEPS // 20),
        seed=SEED,
        **TINY,
    )
    print(
        f"{objective}: {runs[objective].tokens:,} tokens in {runs[objective].train_seconds:.0f} s"
    )
glue("early_step", runs["causal"].evals[0][0])
glue("early_causal", runs["causal"].evals[0][1])
glue("early_masked", runs["masked"].evals[0][1])
glue("tiny_params", tiny["causal"].num_params())
glue("tiny_steps", TINY_STEPS)
glue("tiny_tokens", runs["causal"].tokens)
glue("vocab_size", vocab.vocab_size)
glue("train_chars", len(train_ids))

# %% [markdown]
# Each model has {glue:text}`tiny_params` non-embedding parameters and read
# {glue:text}`tiny_tokens` characters in {glue:text}`tiny_steps` steps, drawn from
# {glue:text}`train_chars` characters of training text (vocabulary: {glue:text}`vocab_size`
# symbols). During training we tracked one question both models can answer: the middle
# character of held-out windows. The causal model answers from the left side only (that is all
# it ever reads); the masked model sees a blank with text on both sides.

# %%
fig = go.Figure()
for objective, label in (("causal", "causal LM, left side"), ("masked", "masked LM, both sides")):
    steps_done, values = zip(*runs[objective].evals, strict=True)
    fig.add_trace(go.Scatter(x=steps_done, y=values, mode="lines+markers", name=label))
unigram = np.bincount(train_ids, minlength=vocab.vocab_size).argmax()
fig.add_hline(
    y=float((windows[:, middle] == int(unigram)).float().mean()),
    line_dash="dot",
    annotation_text="always the most frequent character",
)
fig.update_layout(
    title="Middle character of held-out windows: accuracy during training",
    xaxis_title="optimiser step (same tokens per step for both)",
    yaxis_title="top-1 accuracy (fraction of windows)",
    height=430,
)
fig.show()

# %% [markdown]
# Read the two curves as a race with equal compute per step. The dotted line is what a model
# that ignores context gets. Then score both final models on the same held-out windows in the
# settings that separate the objectives, with 95% bootstrap intervals over windows. The third
# bar gives the *causal* model both sides as well, by Bayes' rule: rewrite the middle
# character with each of the {glue:text}`n_candidates` possible characters, score every
# rewritten window with the chain rule, and normalise. It is exact, and it costs
# {glue:text}`n_candidates` forward passes for one prediction.

# %%
candidates = [i for i in range(vocab.vocab_size) if i not in vocab.special_ids]
glue("n_candidates", len(candidates))
scores = mlm.compare_objectives(
    tiny["causal"], tiny["masked"], windows, mask_id=vocab.mask_id, candidate_ids=candidates
)
intervals = {name: bootstrap_ci(s["correct"], seed=SEED) for name, s in scores.items()}
for name, (point, low, high) in intervals.items():
    nll = scores[name]["nll"].mean()
    print(f"{name:<45} accuracy {point:.3f} [{low:.3f}, {high:.3f}]   {nll:.3f} nats")

fig = go.Figure(
    go.Bar(
        x=list(intervals),
        y=[v[0] for v in intervals.values()],
        error_y=interval_error_y(list(intervals.values())),
        marker_color=["#2ca02c", "#1f77b4", "#9467bd", "#1f77b4", "#2ca02c"],
    )
)
fig.update_layout(
    title=f"Tiny models after {TINY_STEPS} steps: which character is hidden?",
    xaxis_title="question (which token, which model, which context)",
    yaxis_title="top-1 accuracy (fraction of windows, 95% CI)",
    height=480,
)
fig.show()

key = {
    "mid_masked": "middle, masked LM, both sides",
    "mid_causal": "middle, causal LM, left side",
    "mid_rescore": "middle, causal LM, both sides by rescoring",
    "last_causal": "last, causal LM, left side",
    "last_masked": "last, masked LM, left side",
}
for short, name in key.items():
    glue(f"acc_{short}", intervals[name][0])
    glue(f"acc_{short}_low", intervals[name][1])
    glue(f"acc_{short}_high", intervals[name][2])
    glue(f"nll_{short}", float(scores[name]["nll"].mean()))
diff = scores[key["mid_masked"]]["correct"] - scores[key["mid_causal"]]["correct"]
gain, gain_low, gain_high = bootstrap_ci(diff, seed=SEED)
glue("mid_gain", gain)
glue("mid_gain_low", gain_low)
glue("mid_gain_high", gain_high)
verdict = "beats" if gain_low > 0 else "loses to" if gain_high < 0 else "cannot be told apart from"
glue("mid_verdict", verdict)

# %% [markdown]
# Green bars are the masked model, blue the causal one, purple the causal model given both
# sides by rescoring. On the middle character, the masked model (accuracy
# {glue:text}`acc_mid_masked:.3f`) {glue:text}`mid_verdict` the causal model reading the left
# side ({glue:text}`acc_mid_causal:.3f`): the paired difference is
# {glue:text}`mid_gain:+.3f`, 95% CI [{glue:text}`mid_gain_low:+.3f`,
# {glue:text}`mid_gain_high:+.3f`]. With both sides by rescoring, the causal model reaches
# {glue:text}`acc_mid_rescore:.3f`. On the last character, where there is no right side, the
# causal model scores {glue:text}`acc_last_causal:.3f` and the masked model
# {glue:text}`acc_last_masked:.3f`.
#
# How to read this, whichever way the middle comparison came out in your run:
#
# - **The right side carries real information.** The purple bar is the *same* causal network
#   as the left-side bar; only the question changed, from "what comes next?" to "what fits
#   here?". The gap between them is what two-sided context is worth on this text.
# - **The masked objective is the cheap way to use it**: one forward pass per blank instead of
#   one per candidate (here {glue:text}`n_candidates`; for a 30,000-token vocabulary, 30,000).
# - **But per unit of compute, masked training learns slowly at first.** Only 15% of the
#   positions carry a loss, so each step yields about a sixth of the training signal of a
#   causal step (ELECTRA, Clark et al., 2020, was designed around this waste). Worse, the
#   masked model has nothing at the blank itself: a causal model predicting $x_t$ works at
#   position $t-1$, whose own input *is* $x_{t-1}$, so it gets bigram statistics for free, while
#   the masked model must first learn, through the position embeddings, to attend to its
#   neighbours. In the training curves, after {glue:text}`early_step` steps the causal model
#   already got {glue:text}`early_causal:.3f` of the middle characters from the left side,
#   the masked model {glue:text}`early_masked:.3f` from both sides. With `QUICK = False` the
#   models train several times longer.
# - **At the end of a text the masked model is out of its element**: it was trained with
#   context on both sides, and a blank with nothing to its right is rare in its training
#   windows. This is the generation problem, seen from the data.
#
# Sampling from both models makes the last point concrete. The causal model samples the next
# character from $p(x_{t} \mid x_{<t})$, which is exactly what it was trained for; the masked
# model has to be asked to fill a blank appended at the end, again and again.

# %%
prompt = "a domesticated "
start = torch.tensor(vocab.encode(prompt), dtype=torch.long)[None]
sample_causal = tiny["causal"].generate(
    start,
    120,
    temperature=0.8,
    suppress_ids=vocab.special_ids,
    generator=torch.Generator().manual_seed(SEED),
)
sample_masked = mlm.masked_lm_generate(
    tiny["masked"],
    start,
    120,
    mask_id=vocab.mask_id,
    suppress_ids=vocab.special_ids,
    temperature=0.8,
    generator=torch.Generator().manual_seed(SEED),
)
print("causal LM :", repr(vocab.decode(sample_causal[0])))
print("masked LM :", repr(vocab.decode(sample_masked[0])))

# %% [markdown]
# Neither tiny model writes English after a few minutes of CPU training, but the causal
# sample is built from the same left-to-right statistics its loss measures, while the masked
# sample depends on how well the model copes with an unfamiliar position. Real masked models
# are not used this way: BERT-style encoders are used for what the next section shows.
#
# ## Contextual embeddings from a pretrained encoder
#
# The book's packaged encoder, all-MiniLM-L6-v2, has BERT's architecture: 6 bidirectional
# transformer blocks, 384-dimensional vectors, BERT's uncased word-piece vocabulary. (It was
# distilled from a larger BERT-style model and then fine-tuned for sentence embeddings, which
# will matter below.) For a word in a sentence we read its vector after every block: layer 0
# is the embedding layer (word piece + position + segment, normalised), layer $k$ the output of
# block $k$. A word split into several pieces gets the mean of their vectors.
#
# The **static** baseline is the encoder's own input embedding table: one vector per word
# type, whatever the sentence, which is exactly what word2vec or GloVe provide.

# %%
bank_sentences = [
    "he sat on the bank of the river and watched the currents",
    "they pulled the canoe up on the bank",
    "he cashed a check at the bank",
    "that bank holds the mortgage on my home",
]
bank = mlm.contextual_word_vectors(encoder, bank_sentences, "bank")
print("contextual vectors:", bank.shape, "(sentences, layers, dimensions)")
unit = bank / np.linalg.norm(bank, axis=-1, keepdims=True)
fig = make_subplots(rows=1, cols=3, subplot_titles=("layer 0", "layer 3", "layer 6"))
short = ["river 1", "river 2", "money 1", "money 2"]
for col, layer in enumerate((0, 3, 6), start=1):
    cos = unit[:, layer] @ unit[:, layer].T
    fig.add_trace(
        go.Heatmap(
            z=cos,
            x=short,
            y=short,
            zmin=0.3,
            zmax=1,
            colorscale="Viridis",
            colorbar={"title": "cosine"},
            showscale=col == 3,
            texttemplate="%{z:.2f}",
        ),
        row=1,
        col=col,
    )
    fig.update_xaxes(title_text="occurrence of 'bank'", row=1, col=col)
fig.update_yaxes(title_text="occurrence of 'bank'", autorange="reversed", row=1, col=1)
fig.update_layout(title="Cosine similarity of four occurrences of 'bank' by layer", height=400)
fig.show()

# %% [markdown]
# At layer 0 the four vectors differ only through the position embedding, so they are nearly
# identical. Deeper in, each vector has absorbed its sentence; whether the two river banks end
# up closer to each other than to the money banks is what the experiment below measures on
# thousands of sentences instead of four.
#
# ### A word-in-context set from WordNet
#
# WordNet gives example sentences for many senses of a word, labelled by synset. Following WiC
# (Pilehvar and Camacho-Collados, 2019), we pair two sentences that use the same lemma and ask:
# *same sense or not?* For every lemma we draw as many same-sense as different-sense pairs, so
# the set is exactly balanced. Lemmas are split in two halves: the cosine threshold is fitted on
# the pairs of one half and accuracy is measured on the other, so no word leaks from fitting to
# testing. The sentences are read from WordNet at run time.

# %%
examples = mlm.select_wic_lemmas(polysemous_examples(), max_lemmas=WIC_LEMMAS, seed=SEED)
pairs = mlm.build_wic_pairs(examples, pairs_per_lemma=3, seed=SEED)
train_pairs, test_pairs = mlm.split_by_lemma([p.lemma for p in pairs], seed=SEED)
n_lemmas = len({(e.lemma, e.pos) for e in examples})
glue("wic_lemmas", n_lemmas)
glue("wic_sentences", len(examples))
glue("wic_pairs", len(pairs))
glue("wic_test_pairs", int(test_pairs.sum()))
first = pairs[0]
print(f"{len(examples)} sentences of {n_lemmas} lemmas, {len(pairs)} pairs; for example:")
for p in pairs[:2]:
    print(f"  [{'same' if p.same_sense else 'different'} sense of {p.lemma!r}]")
    print(f"    {examples[p.index_a].sentence!r}\n    {examples[p.index_b].sentence!r}")

# %%
contextual = mlm.example_vectors(encoder, examples)
static = mlm.static_word_vectors(encoder, [e.lemma for e in examples])
wic_context = mlm.wic_by_layer(contextual, pairs, train_pairs)
(wic_static,) = mlm.wic_by_layer(static, pairs, train_pairs)
wic_ci = [bootstrap_ci(r.test_correct, seed=SEED) for r in wic_context]
static_ci = bootstrap_ci(wic_static.test_correct, seed=SEED)
best = int(np.argmax([c[0] for c in wic_ci]))
glue("wic_static_acc", static_ci[0])
glue("wic_layer0_acc", wic_ci[0][0])
glue("wic_best_layer", best)
glue("wic_best_acc", wic_ci[best][0])
glue("wic_best_low", wic_ci[best][1])
glue("wic_best_high", wic_ci[best][2])
glue("wic_last_acc", wic_ci[-1][0])
glue("wic_last_layer", len(wic_ci) - 1)

# %% [markdown]
# Each layer's accuracy on the held-out lemmas, with 95% bootstrap intervals over test pairs:

# %%
layers = list(range(len(wic_ci)))
fig = go.Figure()
fig.add_trace(
    go.Scatter(
        x=layers,
        y=[c[0] for c in wic_ci],
        error_y=interval_error_y(wic_ci),
        mode="lines+markers",
        name="contextual (hidden state of the layer)",
    )
)
fig.add_trace(
    go.Scatter(
        x=layers,
        y=[static_ci[0]] * len(layers),
        mode="lines",
        line={"dash": "dash"},
        name="static (input embedding of the lemma)",
    )
)
fig.update_layout(
    title="Same sense or not? Word-in-context accuracy by layer (held-out lemmas)",
    xaxis_title="layer (0 = embeddings, k = after block k)",
    yaxis_title="accuracy (fraction of test pairs, 95% CI)",
    height=440,
)
fig.show()

# %% [markdown]
# The static vectors score exactly {glue:text}`wic_static_acc:.3f`, and that is no accident:
# both sentences of a pair use the same lemma, so they get the *same* static vector and a
# cosine of exactly 1. Every pair has the same score; the best a threshold can do is answer
# "same" for all pairs or "different" for all, and on a balanced set either is right half the
# time. A static embedding cannot separate senses by construction: it has one vector per word.
#
# The contextual vectors rise from {glue:text}`wic_layer0_acc:.3f` at layer 0 to
# {glue:text}`wic_best_acc:.3f` (95% CI [{glue:text}`wic_best_low:.3f`,
# {glue:text}`wic_best_high:.3f`]) at layer {glue:text}`wic_best_layer`, and end at
# {glue:text}`wic_last_acc:.3f` at layer {glue:text}`wic_last_layer`. Layer 0 is *not* static:
# it adds the position embedding, and WordNet's examples sometimes use an inflected form
# ("banks", "banking") whose word pieces differ, which by itself hints at the sense. Probing
# studies of BERT often find word meaning best represented below the top layers (e.g. Vulić et
# al., 2020); the last layer of this particular model was fine-tuned to be averaged into a
# *sentence* vector, which need not keep word senses apart. For scale: on the original WiC
# benchmark BERT-large scored about 65% and the human upper bound was about 80%; WordNet's
# sense distinctions are often fine-grained.
#
# ### Do the senses form clusters?
#
# A threshold on pairs is one view. Another: take all occurrences of one lemma, cluster their
# vectors into as many groups as the lemma has senses (average-linkage, cosine distance), and
# compare the clusters with the synsets using the **adjusted Rand index** (1: the senses are
# recovered exactly; 0: no better than a random grouping of the same sizes). We average over
# the lemmas of the test half.

# %%
test_lemmas = {pairs[i].lemma for i in np.flatnonzero(test_pairs)}
in_test = np.array([e.lemma in test_lemmas for e in examples])
test_examples = [e for e, keep in zip(examples, in_test, strict=True) if keep]
ari = mlm.sense_clustering_ari(contextual[in_test], test_examples, seed=SEED)
ari_static = mlm.sense_clustering_ari(static[in_test], test_examples, seed=SEED)[0]
ari_ci = [bootstrap_ci(row, seed=SEED) for row in ari]
glue("ari_lemmas", ari.shape[1])
glue("ari_static", float(ari_static.mean()))
best_ari = int(np.argmax([c[0] for c in ari_ci]))
glue("ari_best_layer", best_ari)
glue("ari_best", ari_ci[best_ari][0])
glue("ari_best_low", ari_ci[best_ari][1])
glue("ari_best_high", ari_ci[best_ari][2])
glue("ari_layer0", ari_ci[0][0])

fig = go.Figure(
    go.Bar(
        x=layers,
        y=[c[0] for c in ari_ci],
        error_y=interval_error_y(ari_ci),
        name="contextual",
    )
)
fig.add_hline(y=float(ari_static.mean()), line_dash="dash", annotation_text="static vectors")
fig.update_layout(
    title="Sense clustering quality by layer (mean adjusted Rand index over test lemmas)",
    xaxis_title="layer (0 = embeddings, k = after block k)",
    yaxis_title="adjusted Rand index (mean, 95% CI)",
    height=420,
)
fig.show()

# %% [markdown]
# Over {glue:text}`ari_lemmas` test lemmas, the best layer ({glue:text}`ari_best_layer`)
# reaches a mean adjusted Rand index of {glue:text}`ari_best:.3f` (95% CI
# [{glue:text}`ari_best_low:.3f`, {glue:text}`ari_best_high:.3f`]), against
# {glue:text}`ari_layer0:.3f` at layer 0 and {glue:text}`ari_static:.3f` for the static
# vectors, which put every occurrence at the same point and so form a single cluster. Far
# from 1: a handful of sentences per lemma, fine-grained senses, and an encoder that was never
# trained to separate them. The slider shows what the clustering sees for one lemma, projected
# on the two principal directions of its occurrence vectors at each layer.

# %%
by_lemma = {}
for i, e in enumerate(examples):
    by_lemma.setdefault((e.lemma, e.pos), []).append(i)


def n_senses(key):
    return len({examples[i].synset_offset for i in by_lemma[key]})


# The lemma with the most example sentences among those with at most four senses (readable).
lemma_key = max((k for k in by_lemma if n_senses(k) <= 4), key=lambda k: len(by_lemma[k]))
rows = by_lemma[lemma_key]
sense_of = [examples[i].synset_offset for i in rows]
gloss_of = {examples[i].synset_offset: examples[i].gloss for i in rows}
palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
steps, labels, titles = [], [], []
for layer in layers:
    x = contextual[rows, layer]
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T
    traces = []
    for k, offset in enumerate(sorted(set(sense_of))):
        pick = [j for j, s in enumerate(sense_of) if s == offset]
        traces.append(
            go.Scatter(
                x=xy[pick, 0],
                y=xy[pick, 1],
                mode="markers",
                marker={"size": 10, "color": palette[k % len(palette)]},
                name=gloss_of[offset][:40],
                text=[examples[rows[j]].sentence for j in pick],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    steps.append(traces)
    labels.append(str(layer))
    titles.append(f"Occurrences of '{lemma_key[0]}' ({lemma_key[1]}) at layer {layer}, by sense")
fig = slider_figure(
    steps,
    labels,
    titles,
    slider_prefix="layer: ",
    layout={
        "xaxis_title": "first principal direction (arbitrary units)",
        "yaxis_title": "second principal direction (arbitrary units)",
        "height": 520,
    },
)
fig.show()

# %% [markdown]
# Each point is one example sentence (hover to read it), coloured by its WordNet sense. Move
# the slider: at layer 0 the points differ by position and inflection only; in the deeper
# layers, see whether the points of one sense gather. For most lemmas the senses overlap a
# good deal, which is what the modest adjusted Rand index above says in one number.
#
# ## Filling blanks with the pretrained encoder
#
# A masked language model's natural use is fill-in-the-blank. The packaged encoder ships
# *without* BERT's MLM head (sentence-transformers keep only the encoder), so offline we do the
# next best thing and **say plainly what it is**: we fit a small MLM head, BERT's dense layer,
# GELU and LayerNorm followed by a dot product with the encoder's own input-embedding matrix
# (tied weights, as in BERT), on top of the *frozen* encoder, with BERT's masking on WordNet
# text. Only the head's {glue:text}`head_params` parameters are trained, for
# {glue:text}`head_steps` steps; the encoder's weights are never changed. This is a probe of
# what the frozen last layer still knows about individual tokens, not the original BERT. Set
# `FILL_MASK_MODEL = "bert-base-uncased"` in Colab to use a real pretrained MLM instead.

# %%
lines = [t for t in texts if 20 <= len(t) <= 200]
order = np.random.default_rng(SEED).permutation(len(lines))
head_train = [lines[i] for i in order[:HEAD_TEXTS]]
head_test = [lines[i] for i in order[-(400 if QUICK else 2000) :]]
fitted, head_history = mlm.fit_mlm_head(encoder, head_train, steps=HEAD_STEPS, seed=SEED)
glue("head_steps", HEAD_STEPS)
glue("head_params", sum(p.numel() for p in fitted.head.parameters()))
held_out = mlm.masked_token_accuracy(fitted, tok, head_test, seed=SEED)
frequent = np.bincount(held_out["target"]).argmax()  # the most frequent masked token
top1 = bootstrap_ci(held_out["top1"], seed=SEED)
glue("head_top1", top1[0])
glue("head_top1_low", top1[1])
glue("head_top1_high", top1[2])
glue("head_top5", float(held_out["top5"].mean()))
glue("head_nll", float(held_out["nll"].mean()))
glue("head_baseline", float((held_out["target"] == frequent).mean()))
glue("head_baseline_token", tok.convert_ids_to_tokens(int(frequent)))
glue("head_n_masked", len(held_out["top1"]))
train_tokens = [i for t in tok(head_train)["input_ids"] for i in t]
unigram_counts = np.bincount(train_tokens, minlength=len(tok)) + 1.0  # add-one, like the bias
unigram_logp = np.log(unigram_counts / unigram_counts.sum())
glue("unigram_nll", float(-unigram_logp[held_out["target"]].mean()))

fig = go.Figure(go.Scatter(x=head_history["step"], y=head_history["loss"], mode="lines"))
fig.update_layout(
    title="Fitting the MLM head on the frozen encoder: training loss",
    xaxis_title="optimiser step",
    yaxis_title="cross-entropy on masked tokens (nats per token)",
    height=380,
)
fig.show()

# %% [markdown]
# The head's output bias starts at the log frequencies of the tokens in the training
# sentences, so the first steps already score like a unigram model; what the steps add is the
# use of the frozen vectors. On {glue:text}`head_n_masked` masked tokens of held-out
# sentences, the head's cross-entropy is {glue:text}`head_nll:.2f` nats per token against
# {glue:text}`unigram_nll:.2f` for the unigram model alone; its top-1 accuracy is
# {glue:text}`head_top1:.3f` (95% CI [{glue:text}`head_top1_low:.3f`,
# {glue:text}`head_top1_high:.3f`]) and its top-5 accuracy {glue:text}`head_top5:.3f`, against
# {glue:text}`head_baseline:.3f` for always answering the most frequent masked token
# ({glue:text}`head_baseline_token`). Some blanks, filled:

# %%
if FILL_MASK_MODEL:
    filler, fill_tok = mlm.load_hub_masked_lm(FILL_MASK_MODEL)
    print(f"fill-mask with the pretrained MLM {FILL_MASK_MODEL}")
else:
    filler, fill_tok = fitted, tok
    print(f"fill-mask with a head fitted for {HEAD_STEPS} steps on the frozen {encoder.name}")
blanks = [
    "he sat on the [MASK] of the river.",
    "she deposited the money in the [MASK].",
    "the capital of france is [MASK].",
    "a young [MASK] barked at the mailman.",
    "he drank a cup of hot [MASK] every morning.",
]
for text in blanks:
    text = text.replace("[MASK]", fill_tok.mask_token)
    top = mlm.fill_mask(filler, fill_tok, text, top_k=5)
    print(f"{text:<50} " + ", ".join(f"{t} ({p:.2f})" for t, p in top))

# %% [markdown]
# Judge the fillers honestly: whatever the numbers above say about frequencies, this is far
# from a jointly trained masked LM, and there are two reasons, both about
# the encoder rather than the objective. This checkpoint was never trained to predict tokens at
# its output: MiniLM was distilled by copying a larger model's *attention patterns*, and
# all-MiniLM-L6-v2 was then tuned so that the *mean* of its vectors embeds a sentence. And a
# 30,000-way classifier fitted on a few thousand masked positions in a minute learns mostly
# which words are frequent where. The real `bert-base-uncased` head was trained jointly with
# its encoder on billions of words; set `FILL_MASK_MODEL` in Colab to compare.
#
# ## Exercise
#
# ```{admonition} Exercise
# Why are bidirectional (masked) models the standard choice for embeddings, while causal
# models are the standard choice for generation? Answer in terms of (a) what the hidden vector
# at position $t$ can depend on, and (b) what probability each training objective defines.
# Then explain what goes wrong if you generate with a masked LM by appending `[MASK]` and
# sampling it, as we did above.
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# **(a) Embeddings.** In a causal model the hidden vector at position $t$ is a function of
# $x_1..x_t$ only. The vector of "bank" in "the bank of the river" cannot depend on "river",
# which comes later, so the first words of a sentence are embedded with almost no context. In a
# bidirectional model every vector depends on the whole sentence, which is what a contextual
# embedding of a word occurrence should be. (Causal models can be used for embeddings, e.g. by
# taking the *last* position, which has seen everything, but then only one position has full
# context.)
#
# **(b) Generation.** The causal objective trains the conditionals $p(x_t \mid x_{<t})$ of the
# chain rule, $p(x) = \prod_t p(x_t \mid x_{<t})$, so sampling them in order draws a whole text
# from the model's distribution, exactly and with one forward pass per token (plus a cache).
# The masked objective trains $p(x_t \mid \tilde x)$: conditionals given *both* sides, for
# about 15% of the positions. These do not multiply into a joint distribution (the product
# $\prod_t p(x_t \mid x_{\neq t})$ is a pseudo-likelihood, not a probability of the text), so
# there is no exact left-to-right sampling procedure.
#
# **Appending `[MASK]`.** Asking for the last token with nothing to its right is a situation
# the masked model saw only at the edge of its training windows; its prediction is a
# conditional it was barely trained for, and errors compound because each sampled token
# becomes context for the next one. Besides, the model reads every position again at every step
# (no caching: earlier vectors change when a token is appended, because attention is
# bidirectional), so generating $n$ tokens costs $n$ full passes over the growing text. Masked
# models can generate by iterative refinement (fill all blanks, re-mask the least confident,
# repeat), but that is a different, slower procedure with no exact likelihood.
# ```
#
# ## What to take away
#
# - A masked LM and a causal LM can be the same network; the attention mask and the training
#   targets make the difference.
# - Predicting a hidden token from both sides is an easier question than predicting the next
#   one; the masked objective answers it in one forward pass, but trains on only the chosen
#   positions, which makes it slower to learn per unit of compute.
# - Contextual vectors from a bidirectional encoder separate word senses well above chance in
#   the middle layers; static vectors cannot, by construction.
# - Without its MLM head, an encoder can still fill blanks once a small tied head is fitted on
#   top; that is a probe, not the original model.
