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
# # Bi-encoders and cross-encoders: retrieve, rerank, and pay for it
#
# A search system has to find the few documents that answer a query among very many that do
# not. A masked-language-model encoder of the BERT family can score a (query, document) pair in
# two ways. A **bi-encoder** encodes query and document *separately* into one vector each and
# compares the vectors; a **cross-encoder** reads query and document *together* and outputs one
# relevance score. The first is fast because the documents can be encoded in advance; the second
# is usually more accurate because every query word can attend to every document word. This
# chapter builds both from the same small pretrained encoder, fine-tunes them on a retrieval task
# made from WordNet, and measures what the cross-encoder's quality costs in milliseconds.

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
    import nltk  # WordNet 3.0 for support.corpora

    nltk.download("wordnet", quiet=True)

# %% tags=["parameters"]
QUICK = True  # CI runs QUICK: fewer queries, a smaller haystack, smaller training sets
SEED = 0
ENCODER = "all-minilm-l6-v2"  # short name, or a hub id of a sentence-transformers model in Colab
N_TEST_QUERIES = 200 if QUICK else None  # None: every test query
MAX_HAYSTACK = 1000 if QUICK else None  # unrelated glosses added to each collection
BI_TRAIN_PAIRS = 2000 if QUICK else None  # (query, gloss) pairs for the bi-encoder
CE_TRAIN_QUERIES = 1000 if QUICK else None  # queries for the cross-encoder (3 pairs each)
CE_LEARNING_RATE = 5e-5
RERANK_KS = [1, 3, 5, 10, 20] if QUICK else [1, 3, 5, 10, 20, 50]
LATENCY_QUERIES = 10 if QUICK else 30  # single queries timed one at a time
LATENCY_BUDGET_MS = 200  # for the exercise: one query, one machine
SCALE_SIZES = [1_000, 3_000, 10_000, 30_000, 100_000] if QUICK else [1_000, 10_000, 300_000]

# %%
import time

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from transformers.utils import logging as hf_logging

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support.models import encoder_path, load_encoder, load_sentence_transformer
from support.plots import interval_error_y
from support.report import glue
from support.retrieval import (
    bi_encoder_pairs,
    build_wordnet_task,
    cross_encoder_pairs,
    cross_encoder_scores,
    encode,
    exact_search,
    fine_tune_bi_encoder,
    fit_linear_cost,
    one_thread,
    per_item_ms,
    rerank_top_k,
    retrieval_metrics,
    search_ms_by_size,
    sentence_transformer_parts,
    train_cross_encoder,
)
from support.stats import bootstrap_ci

hf_logging.disable_progress_bar()  # no model-loading bars in the book's outputs
K_MAX = max(RERANK_KS + [10])  # candidates the bi-encoder hands to the reranker

# %% [markdown]
# ## The task: word senses as retrieval
#
# WordNet gives each sense of a word a definition (its **gloss**) and often an example sentence.
# That is a retrieval task with labels for free:
#
# - a **query** is an example sentence, prefixed with the word it illustrates
#   (`bank: they pulled the canoe up on the bank`);
# - the **relevant document** is the gloss of the sense the sentence uses
#   (*sloping land, especially the slope beside a body of water*);
# - the glosses of the word's other senses are **hard negatives**: they are about the same word,
#   and telling them apart is word-sense disambiguation;
# - every other gloss is the **haystack**.
#
# The split is by word: a word's sentences and senses are in one split only. A gloss shared by
# words of different splits (a synset has several synonyms) goes to the first of test, dev,
# train that claims it, and queries elsewhere that would need it are dropped; identical glosses
# count as one document. So no test query, test sentence or test gloss is seen in training.

# %%
task = build_wordnet_task(pos=("n", "v"), max_haystack=MAX_HAYSTACK, seed=SEED)
test = task.test if N_TEST_QUERIES is None else task.test.subsample(N_TEST_QUERIES, seed=SEED)

print(f"{'split':<6}{'words':>7}{'queries':>9}{'documents':>11}")
for split in (task.train, task.dev, task.test):
    print(f"{split.name:<6}{len(split.senses):>7}{len(split.queries):>9}{len(split.doc_ids):>11}")
print("dropped to keep the splits apart:", dict(task.dropped))

example = test.queries[0]
print(f"\nquery:    {example.text}")
print(f"relevant: {test.doc_texts[test.index_of(example.relevant_id)]}")
for d in test.hard_negative_ids(example)[:3]:
    print(f"hard neg: {test.doc_texts[test.index_of(d)]}")

n_senses = [len(test.senses[(q.lemma, q.pos)]) for q in test.queries]
glue("n_test_queries", len(test.queries))
glue("n_test_docs", len(test.doc_ids))
glue("n_train_queries", len(task.train.queries))
glue("mean_senses", float(np.mean(n_senses)))
glue("n_dropped", int(sum(task.dropped.values())))

# %% [markdown]
# We evaluate on {glue:text}`n_test_queries` test queries searched against a collection of
# {glue:text}`n_test_docs` glosses; a test query's word has {glue:text}`mean_senses:.1f` senses
# on average, so the right answer always competes with several near misses.
# {glue:text}`n_dropped` example sentences were dropped because their gloss belongs to another
# split (or the same sentence illustrates two senses of the word).
#
# ## Two ways to score a pair
#
# Let $\mathrm{Enc}$ be a BERT-style encoder that maps a token sequence to one vector per token.
#
# **Bi-encoder.** Encode each text alone and pool the token vectors into one vector, here the
# mean over the non-padding tokens, normalised to unit length:
#
# $$ f(x) = \frac{\bar h(x)}{\lVert \bar h(x) \rVert}, \quad
#    \bar h(x) = \frac{1}{|x|}\sum_{t=1}^{|x|} \mathrm{Enc}(x)_t, \qquad
#    s_{\text{bi}}(q, d) = f(q)^\top f(d) = \cos\big(\bar h(q), \bar h(d)\big). $$
#
# $f(d)$ does not depend on the query, so the whole collection is encoded **once, offline**. A
# query then costs one encoder pass plus $N$ dot products for $N$ documents.
#
# **Cross-encoder.** Concatenate the pair, `[CLS] q [SEP] d [SEP]`, run the encoder once and map
# the `[CLS]` vector to one number with a linear head:
#
# $$ s_{\text{cross}}(q, d) = w^\top \mathrm{Enc}([q; d])_{\texttt{CLS}} + b . $$
#
# Now every layer's attention mixes query and document tokens, so the document's representation
# depends on the query: there is nothing to pre-compute. Scoring $k$ candidates costs $k$ encoder
# passes *per query*, which is why a cross-encoder only ever **reranks** a short list that a
# bi-encoder retrieved.
#
# ## Our bi-encoder, checked against sentence-transformers
#
# `support.retrieval.encode` does the four steps by hand: tokenise, run the encoder, mean-pool
# with the attention mask, normalise. The same weights packaged as a sentence-transformers
# model must give the same vectors.

# %%
encoder = load_encoder(ENCODER)
reference_model = load_sentence_transformer(ENCODER)
sample = [q.text for q in test.queries[:32]] + list(test.doc_texts[:32])
ours = encode(sample, encoder.model, encoder.tokenizer)
theirs = reference_model.encode(sample, show_progress_bar=False)
max_diff = float(np.abs(ours - theirs).max())
print(f"vectors {ours.shape}, largest absolute difference {max_diff:.2e}")
glue("encode_max_diff", max_diff)
glue("n_compared", len(sample))
assert max_diff < 1e-4

# %% [markdown]
# Over {glue:text}`n_compared` queries and glosses the largest difference in any coordinate is
# {glue:text}`encode_max_diff:.1e`: float rounding, the same function.
#
# ## Exact search with the encoder off the shelf
#
# Encode the collection once, then for each query take the $k$ largest cosines by brute force.
# The metrics, computed per query and averaged (each query has exactly one relevant gloss):
#
# - **Recall@k**: is the gloss among the first $k$? **Precision@k**: the share of the first $k$
#   that is relevant; with one relevant document it is Recall@k$/k$, and **precision@1** is the
#   share of queries whose top answer is right.
# - **MRR@10**: the mean of $1/\text{rank}$ of the gloss, counting 0 beyond rank 10.
# - **nDCG@10**: $1/\log_2(1+\text{rank})$ within the first 10 (the ideal ranking scores 1).
#
# Intervals are 95% percentile-bootstrap intervals over queries.

# %%
query_texts = test.query_texts
relevant = test.relevant_indices


def bi_encoder_run(model, tokenizer, max_length):
    """Encode the collection and the queries, search exactly; return doc vectors and top K_MAX."""
    doc_vectors = encode(list(test.doc_texts), model, tokenizer, max_length=max_length)
    query_vectors = encode(query_texts, model, tokenizer, max_length=max_length)
    _, top = exact_search(query_vectors, doc_vectors, K_MAX)
    return doc_vectors, top


def summarise(name, rankings):
    """Per-query metrics of one system, printed with bootstrap intervals; returns them."""
    metrics = retrieval_metrics(rankings, relevant, recall_ks=(1, 10, K_MAX))
    shown = ["precision@1", "recall@10", f"recall@{K_MAX}", "mrr@10", "ndcg@10"]
    cells = []
    for key in shown:
        point, low, high = bootstrap_ci(metrics[key], seed=SEED)
        cells.append(f"{key} {point:.3f} [{low:.3f}, {high:.3f}]")
    print(f"{name:<22}" + "  ".join(cells))
    return metrics


base_docs, base_top = bi_encoder_run(encoder.model, encoder.tokenizer, 256)
results = {"off the shelf": summarise("off the shelf", base_top)}
glue("base_p1", float(results["off the shelf"]["precision@1"].mean()))
glue("base_r10", float(results["off the shelf"]["recall@10"].mean()))
glue("base_rkmax", float(results["off the shelf"][f"recall@{K_MAX}"].mean()))
glue("k_max", K_MAX)

# %% [markdown]
# Off the shelf, the top answer is right for a share {glue:text}`base_p1:.3f` of the queries, and
# the right gloss is in the top 10 for {glue:text}`base_r10:.3f`. The encoder was trained to
# put paraphrases close together; a usage sentence and a dictionary definition are not
# paraphrases, and a sentence's vector is dominated by its other words, not by which sense of
# the target word it uses.
#
# ## Fine-tuning the bi-encoder with in-batch negatives
#
# Training pairs are (query, relevant gloss) from the training words. For a batch of $B$ pairs,
# every other pair's gloss serves as a negative for free, and the loss is a softmax
# cross-entropy over the batch with scaled cosines (MultipleNegativesRankingLoss, InfoNCE):
#
# $$ \mathcal{L} = -\frac{1}{B}\sum_{i=1}^{B} \log
#    \frac{\exp\big(\tau^{-1} \cos(f(q_i), f(d_i))\big)}
#         {\sum_{j=1}^{B} \exp\big(\tau^{-1} \cos(f(q_i), f(d_j))\big)}, \qquad \tau^{-1} = 20 . $$
#
# Batches never contain the same text twice, so no "negative" is secretly the positive.

# %%
pairs = bi_encoder_pairs(task.train, max_pairs=BI_TRAIN_PAIRS, seed=SEED)
bi_model = load_sentence_transformer(ENCODER)  # a fresh copy; the reference stays untouched
start = time.perf_counter()
fine_tune_bi_encoder(bi_model, pairs, batch_size=32, seed=SEED)
train_seconds_bi = time.perf_counter() - start
tuned_model, tuned_tokenizer, tuned_max_length = sentence_transformer_parts(bi_model)
tuned_docs, tuned_top = bi_encoder_run(tuned_model, tuned_tokenizer, tuned_max_length)
results["fine-tuned"] = summarise("fine-tuned", tuned_top)
gain = results["fine-tuned"]["precision@1"] - results["off the shelf"]["precision@1"]
glue("bi_train_pairs", len(pairs["anchor"]))
glue("bi_train_seconds", float(train_seconds_bi))
glue("tuned_p1", float(results["fine-tuned"]["precision@1"].mean()))
glue("tuned_r10", float(results["fine-tuned"]["recall@10"].mean()))
glue("tuned_rkmax", float(results["fine-tuned"][f"recall@{K_MAX}"].mean()))
_, gain_low, gain_high = bootstrap_ci(gain, seed=SEED)
glue("bi_gain", float(gain.mean()))
glue("bi_gain_low", gain_low)
glue("bi_gain_high", gain_high)
gain_r10 = results["fine-tuned"]["recall@10"] - results["off the shelf"]["recall@10"]
point_r10, low_r10, high_r10 = bootstrap_ci(gain_r10, seed=SEED)
glue("bi_gain_r10", point_r10)
glue("bi_gain_r10_low", low_r10)
glue("bi_gain_r10_high", high_r10)

# %% [markdown]
# {glue:text}`bi_train_pairs` pairs and one epoch ({glue:text}`bi_train_seconds:.0f` s here)
# move precision@1 to {glue:text}`tuned_p1:.3f` and Recall@10 to {glue:text}`tuned_r10:.3f`.
# The paired gain in precision@1 (same queries, both systems) is {glue:text}`bi_gain:+.3f`,
# 95% interval [{glue:text}`bi_gain_low:+.3f`, {glue:text}`bi_gain_high:+.3f`]; in Recall@10
# it is {glue:text}`bi_gain_r10:+.3f` [{glue:text}`bi_gain_r10_low:+.3f`,
# {glue:text}`bi_gain_r10_high:+.3f`]. An interval that includes 0 means this run cannot tell
# the two apart on that metric — with so little training that is a possible outcome, and the
# deeper metrics (Recall@10, MRR@10) usually move before the top answer does. The in-batch
# negatives are mostly random glosses: the loss teaches "this definition is about this word",
# not "this is the right sense of it".
#
# ## A cross-encoder reranker
#
# The cross-encoder starts from the **same pretrained encoder weights** with a **fresh,
# randomly initialised one-logit head** on `[CLS]` (`num_labels=1`). It is trained pointwise with
# binary cross-entropy on labelled pairs: per training query its gloss (label 1), one gloss of
# another sense of the same word (a hard negative, label 0) and one random gloss (label 0, so
# it also learns to reject the off-topic text a top-$k$ list contains). It then rescores the
# fine-tuned bi-encoder's top {glue:text}`k_max` for every test query; reranking the top $k$
# reorders the first $k$ of that list and leaves the rest as it was.

# %%
ce_pairs = cross_encoder_pairs(
    task.train, max_queries=CE_TRAIN_QUERIES, n_hard=1, n_random=1, seed=SEED
)
start = time.perf_counter()
cross_encoder = train_cross_encoder(
    encoder_path(ENCODER),
    ce_pairs,
    learning_rate=CE_LEARNING_RATE,
    batch_size=16,
    max_length=64,
    seed=SEED,
)
train_seconds_ce = time.perf_counter() - start
glue("ce_train_pairs", len(ce_pairs["label"]))
glue("ce_train_seconds", float(train_seconds_ce))

# Score the fine-tuned bi-encoder's top K_MAX once; a smaller k reranks a prefix of that list.
flat_queries = [query_texts[i] for i in range(len(query_texts)) for _ in range(K_MAX)]
flat_docs = [test.doc_texts[j] for row in tuned_top for j in row]
ce_scores = cross_encoder_scores(cross_encoder, flat_queries, flat_docs).reshape(tuned_top.shape)
for k in RERANK_KS:
    results[f"rerank top {k}"] = summarise(f"rerank top {k}", rerank_top_k(tuned_top, ce_scores, k))

# %% [markdown]
# Before weighing quality against latency, two checks of whether the reranker learned its job.
# On held-out **dev** pairs (dev words, built like the training pairs), compare its binary
# cross-entropy with that of the best constant guess, which knows only the share of positives.
# And on the **test** queries whose gloss is among the {glue:text}`k_max` candidates, count how
# often each model puts that gloss first among them.

# %%
dev_pairs = cross_encoder_pairs(task.dev, max_queries=100, n_hard=1, n_random=1, seed=SEED)
dev_logits = torch.tensor(
    cross_encoder_scores(cross_encoder, dev_pairs["query"], dev_pairs["document"])
)
dev_labels = torch.tensor(dev_pairs["label"])
ce_dev_nats = F.binary_cross_entropy_with_logits(dev_logits, dev_labels).item()
share = dev_labels.mean().item()
constant_nats = -(share * np.log(share) + (1 - share) * np.log(1 - share))

found = (tuned_top == relevant[:, None]).any(axis=1)  # the gloss is among the candidates
bi_first = tuned_top[found, 0] == relevant[found]
ce_first = tuned_top[found, ce_scores[found].argmax(axis=1)] == relevant[found]
print(f"dev pairs: cross-encoder {ce_dev_nats:.3f} nats, constant guess {constant_nats:.3f} nats")
print(f"test queries with the gloss among the top {K_MAX}: {found.sum()}")
print(f"  gloss ranked first by the bi-encoder:    {bi_first.mean():.3f}")
print(f"  gloss ranked first by the cross-encoder: {ce_first.mean():.3f}")
glue("ce_dev_nats", ce_dev_nats)
glue("constant_nats", float(constant_nats))
glue("n_found", int(found.sum()))
glue("bi_first_found", float(bi_first.mean()))
glue("ce_first_found", float(ce_first.mean()))

# %% [markdown]
# On dev pairs the cross-encoder's loss is {glue:text}`ce_dev_nats:.3f` nats per pair against
# {glue:text}`constant_nats:.3f` for the constant guess. Among the {glue:text}`n_found` test
# queries whose gloss the bi-encoder retrieved, the bi-encoder already ranks it first for a
# share {glue:text}`bi_first_found:.3f`; the cross-encoder, choosing among the same candidates,
# for {glue:text}`ce_first_found:.3f`. Reranking can only help if the second number beats the
# first.
#
# ## Quality against latency
#
# Latency is what one user waits for one query, measured on this machine, one query at a time
# and on **one core** (`one_thread`): a server answering many queries at once gives each one
# core, and a single thread is also what other work on a shared machine disturbs least. The
# bi-encoder's cost is encoding the query plus the exact search over the collection; reranking
# adds one cross-encoder pass over $k$ (query, gloss) pairs.

# %%
rng = np.random.default_rng(SEED)
timed = rng.choice(len(query_texts), size=min(LATENCY_QUERIES, len(query_texts)), replace=False)


def bi_encoder_query(i):
    vector = encode(query_texts[i], tuned_model, tuned_tokenizer, max_length=tuned_max_length)
    return exact_search(vector, tuned_docs, K_MAX)


def rerank_query(i, k):
    docs = [test.doc_texts[j] for j in tuned_top[i, :k]]
    return cross_encoder_scores(cross_encoder, [query_texts[i]] * k, docs)


with one_thread():  # one query on one core: see the text above
    bi_ms = float(per_item_ms(bi_encoder_query, timed).mean())
    rerank_ms = {
        k: float(per_item_ms(lambda i, k=k: rerank_query(i, k), timed).mean()) for k in RERANK_KS
    }
# The slope of reranking time against k: milliseconds per extra candidate.
ce_ms_per_candidate = float(np.polyfit(RERANK_KS, [rerank_ms[k] for k in RERANK_KS], 1)[0])

metric = "precision@1"
tuned_values = results["fine-tuned"][metric]
print(f"bi-encoder (encode query + search {len(test.doc_ids)} docs): {bi_ms:.1f} ms/query, "
      f"{metric} {tuned_values.mean():.3f}")  # fmt: skip
print(f"{'rerank top k':>12}{'+ms/query':>11}{metric:>13}{'paired change [95% interval]':>32}")
gains = {}
for k in RERANK_KS:
    gains[k] = bootstrap_ci(results[f"rerank top {k}"][metric] - tuned_values, seed=SEED)
    point, low, high = gains[k]
    p1 = results[f"rerank top {k}"][metric].mean()
    print(f"{k:>12}{rerank_ms[k]:>11.1f}{p1:>13.3f}{point:>+15.3f} [{low:+.3f}, {high:+.3f}]")

k_top = max(RERANK_KS)
best_k = max(RERANK_KS, key=lambda k: results[f"rerank top {k}"][metric].mean())
glue("bi_ms", bi_ms)
glue("ce_ms_per_candidate", ce_ms_per_candidate)
glue("k_rerank_max", k_top)
glue("k_rerank_min", min(RERANK_KS))
glue("rerank_ms_kmax", rerank_ms[k_top])
glue("rerank_kmax_p1", float(results[f"rerank top {k_top}"][metric].mean()))
glue("rerank_k1_p1", float(results[f"rerank top {min(RERANK_KS)}"][metric].mean()))
glue("rerank_gain_kmax", gains[k_top][0])
glue("rerank_gain_kmax_low", gains[k_top][1])
glue("rerank_gain_kmax_high", gains[k_top][2])
glue("best_k", best_k)
glue("best_rerank_p1", float(results[f"rerank top {best_k}"][metric].mean()))
glue("best_rerank_ms", bi_ms + rerank_ms[best_k])

# %%
systems = [("off the shelf", bi_ms), ("fine-tuned", bi_ms)] + [
    (f"rerank top {k}", bi_ms + rerank_ms[k]) for k in RERANK_KS
]
points = {name: (ms, *bootstrap_ci(results[name][metric], seed=SEED)) for name, ms in systems}
fig = go.Figure()
for group, colour in (("bi-encoder", "#1f77b4"), ("bi-encoder + reranking", "#ff7f0e")):
    names = [n for n in points if n.startswith("rerank") == (group != "bi-encoder")]
    fig.add_scatter(
        x=[points[n][0] for n in names],
        y=[points[n][1] for n in names],
        error_y=interval_error_y([points[n][1:] for n in names]),
        mode="markers+text" if group == "bi-encoder" else "lines+markers+text",
        text=[n.replace("rerank top ", "k=") for n in names],
        textposition="top center",
        marker={"size": 10, "color": colour},
        line={"color": colour},
        name=group,
    )
fig.update_layout(
    title=f"Precision@1 against latency, reranking the top k ({len(test.queries)} test queries)",
    xaxis_title="latency per query (ms, log scale)",
    yaxis_title="precision@1 (share of queries, 95% interval)",
    xaxis_type="log",
    height=460,
)
fig.show()

# %% [markdown]
# Each point is one system: its height is precision@1 with its bootstrap interval, its position
# the milliseconds one query takes. The two blue points (off the shelf and fine-tuned) share one
# latency, since they are the same network; the orange line walks through $k$.
#
# The fine-tuned bi-encoder answers in {glue:text}`bi_ms:.1f` ms. Reranking costs about
# {glue:text}`ce_ms_per_candidate:.1f` ms per candidate, so latency grows linearly with $k$:
# the top {glue:text}`k_rerank_max` add {glue:text}`rerank_ms_kmax:.0f` ms and change
# precision@1 by {glue:text}`rerank_gain_kmax:+.3f` (paired over the same queries, 95% interval
# [{glue:text}`rerank_gain_kmax_low:+.3f`, {glue:text}`rerank_gain_kmax_high:+.3f`]). The most
# precise setting in this run is $k$ = {glue:text}`best_k`, with {glue:text}`best_rerank_p1:.3f`
# at {glue:text}`best_rerank_ms:.0f` ms ($k = 1$ means no reordering at all).
#
# The textbook curve rises with $k$ and then flattens: reranking can only promote a gloss the
# bi-encoder put in its top $k$, so Recall@$k$ is its ceiling, while every extra candidate costs
# the same milliseconds. That curve needs a reranker that beats the bi-encoder at choosing among
# the candidates, the comparison of the previous section. When it does not, each reordering is
# more likely to demote the right gloss than to promote it, and a deeper list only offers more
# wrong glosses to promote: the line falls as $k$ grows. A small training budget produces
# exactly that. The cross-encoder's head started from random numbers, its `[CLS]` vector was never
# trained for relevance, and it saw {glue:text}`ce_train_pairs` pairs
# ({glue:text}`ce_train_seconds:.0f` s here). The bi-encoder inherits contrastive training on
# about a billion sentence pairs for exactly the similarity it is used for. Rerankers that beat
# their bi-encoders, such as those trained on MS MARCO, see hundreds of thousands of labelled
# pairs; `QUICK = False` trains on more pairs, and the two checks above say whether that was
# enough.
#
# ## Scale: what a million documents would cost
#
# The bi-encoder's search is a matrix-vector product over the whole collection, so its cost
# grows linearly with the number of documents $N$; the query encoding does not depend on $N$.
# Below, exact top-10 search over random unit vectors of the same width (the arithmetic does not
# care what the vectors mean), timed on one core at several sizes.

# %%
dim = tuned_docs.shape[1]
with one_thread():
    search_ms = search_ms_by_size(SCALE_SIZES, dim=dim, k=10, repeats=5, seed=SEED)
    query_encode_ms = float(
        per_item_ms(lambda i: encode(query_texts[i], tuned_model, tuned_tokenizer), timed).mean()
    )
intercept, slope = fit_linear_cost(SCALE_SIZES, search_ms)
million = 1_000_000
search_million_ms = intercept + slope * million
rerank_all_million_hours = ce_ms_per_candidate * million / 1000 / 3600
for n, ms in zip(SCALE_SIZES, search_ms, strict=True):
    print(f"{n:>8} docs: exact search {ms:7.2f} ms")
print(f"query encoding {query_encode_ms:.1f} ms; search {slope * million:.1f} ms per million docs")
glue("search_ms_per_million", slope * million)
glue("query_encode_ms", query_encode_ms)
glue("search_million_ms", search_million_ms)
glue("rerank_all_million_hours", rerank_all_million_hours)
glue("index_mb_million", million * dim * 4 / 1e6)
glue("largest_size", max(SCALE_SIZES))
glue("search_ms_largest", float(search_ms[-1]))
# The budget of the exercise below: how many candidates fit after encoding and searching?
k_budget = int(
    max(0, (LATENCY_BUDGET_MS - query_encode_ms - search_million_ms) // ce_ms_per_candidate)
)
glue("latency_budget_ms", LATENCY_BUDGET_MS)
glue("k_budget", k_budget)
# The size at which one exact search costs as much as encoding the query.
crossover = (query_encode_ms - intercept) / slope if slope > 0 else float("inf")
glue("crossover_docs", float(f"{crossover:.2g}"))  # two significant digits

sizes_plot = np.logspace(3, 6, 30)
fig = go.Figure()
fig.add_scatter(x=SCALE_SIZES, y=search_ms, mode="markers", name="exact search, measured")
fitted = np.maximum(intercept + slope * sizes_plot, 1e-3)  # a log axis cannot show <= 0
fig.add_scatter(x=sizes_plot, y=fitted, name="exact search, linear fit", line_dash="dash")
fig.add_scatter(x=sizes_plot, y=ce_ms_per_candidate * sizes_plot, name="cross-encoder, every doc")
fig.add_hline(y=query_encode_ms, line_dash="dot", annotation_text="one query encoding")
fig.update_layout(
    title="Cost of one query against collection size",
    xaxis_title="documents in the collection (log scale)",
    yaxis_title="milliseconds per query (log scale)",
    xaxis_type="log",
    yaxis_type="log",
    height=460,
)
fig.show()

# %% [markdown]
# Both axes are logarithmic: the measured search times lie on the dashed line, and the
# cross-encoder's line, had it to score every document, sits orders of magnitude above it.
#
# Extrapolated on paper to a million documents: exact search costs about
# {glue:text}`search_million_ms:.0f` ms per query (the fit gives
# {glue:text}`search_ms_per_million:.0f` ms per million documents, measured up to
# {glue:text}`largest_size:,` of them) plus {glue:text}`query_encode_ms:.1f` ms to encode the
# query, and the vectors take {glue:text}`index_mb_million:,.0f` MB in float32. Scoring the same
# million documents with the cross-encoder would take about
# {glue:text}`rerank_all_million_hours:.1f` hours *per query*. That is the whole argument for
# the two-stage design: the bi-encoder narrows a million to $k$ in milliseconds, the
# cross-encoder spends its passes only on those $k$.
#
# Exact search stays cheaper than encoding the query up to roughly
# {glue:text}`crossover_docs:,.0f` documents. Beyond that, and certainly at hundreds of millions,
# systems replace the brute-force product with an **approximate nearest-neighbour index** (HNSW
# graphs, inverted files with product quantisation, as in FAISS): sublinear search time in
# exchange for missing a small share of the true top $k$.
#
# ```{admonition} Exercise
# A service must answer each query within {glue:text}`latency_budget_ms` ms on one machine like
# the one that built this page, over a collection of one million glosses, with the fine-tuned
# bi-encoder followed by the cross-encoder. Using the costs measured above, how many candidates
# $k$ can it rerank? If the collection grows to 100 million documents, what changes, and which
# stage do you change?
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# The budget splits into query encoding, search and reranking:
# $T(k) = t_{\text{enc}} + t_{\text{search}}(N) + k \, t_{\text{ce}} \le$
# {glue:text}`latency_budget_ms` ms. With this page's numbers,
# $t_{\text{enc}} \approx$ {glue:text}`query_encode_ms:.1f` ms,
# $t_{\text{search}}(10^6) \approx$ {glue:text}`search_million_ms:.0f` ms and
# $t_{\text{ce}} \approx$ {glue:text}`ce_ms_per_candidate:.1f` ms per candidate, so
# $k \le \lfloor (T - t_{\text{enc}} - t_{\text{search}}) / t_{\text{ce}} \rfloor$ =
# {glue:text}`k_budget` (0 means the first stage alone already uses up the budget on this
# machine). Whether those $k$ candidates are worth their milliseconds is read off the quality
# curve above: beyond the depth where precision@1 stops rising, or with a reranker that does not
# beat the bi-encoder, a larger $k$ only adds latency.
#
# At 100 million documents exact search takes a hundred times longer (seconds per query) and
# the vectors need a hundred times the memory, about 150 GB in float32, while the reranking cost
# does not change, because it depends on $k$ and not on $N$. So the first stage changes: an
# approximate index (HNSW, or IVF with product quantisation) brings search back to milliseconds
# at the price of a little recall, and compressed vectors bring the memory down. The
# cross-encoder stage stays as it is.
# ```
#
# ## What to take away
#
# - A bi-encoder pays for documents once, ahead of time; a query costs one encoder pass and a
#   search. A cross-encoder pays per (query, document) pair, every time.
# - In-batch negatives make fine-tuning a bi-encoder cheap; a cross-encoder needs labelled
#   pairs with hard negatives and starts from an untrained head.
# - Reranking moves quality only within the bi-encoder's top $k$, and its latency is linear in
#   $k$. Whether it pays off is an empirical question per task and per training budget: this page
#   measures it instead of assuming it.
