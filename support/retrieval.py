"""Dense retrieval with a bi-encoder, reranking with a cross-encoder, and how to measure both.

One idea per section:

* **The task.** WordNet 3.0 turned into retrieval: a query is an example sentence that uses a
  word (prefixed with the word, ``"bank: they pulled the canoe up on the bank"``); the relevant
  document is the gloss of the sense that sentence illustrates; the glosses of the word's other
  senses are hard negatives and every other gloss is haystack. The split is by lemma and every
  gloss belongs to exactly one split, so no test query, test gloss or test sentence is ever seen
  in training (:func:`build_wordnet_task`).
* **The bi-encoder.** Tokenise, run the encoder, mean-pool the token vectors under the attention
  mask, L2-normalise (:func:`encode`), then exact cosine search over the collection
  (:func:`exact_search`). Documents are encoded once, ahead of any query.
* **The cross-encoder.** One forward pass per (query, document) pair, so nothing can be
  pre-computed; it rescores the bi-encoder's top-k (:func:`cross_encoder_scores`,
  :func:`rerank_top_k`).
* **Metrics** per query, so intervals can be bootstrapped over queries: Recall@k, precision@k,
  MRR@10 and nDCG@10 (:func:`retrieval_metrics`).
* **Fine-tuning** with sentence-transformers' trainers, silently and in a temporary folder:
  the bi-encoder with in-batch negatives (:func:`fine_tune_bi_encoder`), the cross-encoder
  with binary cross-entropy on labelled pairs (:func:`train_cross_encoder`).
* **Latency**: wall-clock milliseconds per call (:func:`measure_ms`, :func:`per_item_ms`),
  measured on one core (:func:`one_thread`); exact-search cost against collection size
  (:func:`search_ms_by_size`) and a straight-line extrapolation (:func:`fit_linear_cost`).

References: Reimers & Gurevych 2019 (Sentence-BERT, the bi-encoder); Nogueira & Cho 2019
(passage re-ranking with BERT, the cross-encoder); Henderson et al. 2017 and van den Oord et al.
2018 (in-batch negatives, InfoNCE); Järvelin & Kekäläinen 2002 (nDCG).
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "QUERY_TEMPLATE",
    "SPLITS",
    "Query",
    "RetrievalSplit",
    "RetrievalTask",
    "doc_id",
    "split_lemmas",
    "build_wordnet_task",
    "bi_encoder_pairs",
    "cross_encoder_pairs",
    "mean_pool",
    "encode",
    "sentence_transformer_parts",
    "exact_search",
    "recall_at_k",
    "precision_at_k",
    "reciprocal_rank",
    "ndcg_at_k",
    "retrieval_metrics",
    "cross_encoder_scores",
    "rerank_top_k",
    "fine_tune_bi_encoder",
    "train_cross_encoder",
    "measure_ms",
    "per_item_ms",
    "one_thread",
    "search_ms_by_size",
    "fit_linear_cost",
]

SPLITS: tuple[str, ...] = ("train", "dev", "test")
# Which split keeps a gloss that two splits' lemmas share: test first, so the test set is never
# shortened to protect training data.
_PRIORITY: tuple[str, ...] = ("test", "dev", "train")
QUERY_TEMPLATE = "{lemma}: {sentence}"


# =========================================================================== the task


def doc_id(pos: str, offset: int) -> str:
    """The id of a WordNet synset's gloss: part of speech plus the 8-digit byte offset.

    Offsets are unique only within one part of speech's data file, hence the prefix.

    >>> doc_id("n", 2137)
    'n00002137'
    """
    if pos not in ("n", "v", "a", "s", "r"):
        raise ValueError(f"pos must be one of 'n', 'v', 'a', 's', 'r', got {pos!r}")
    if not 0 <= offset < 10**8:
        raise ValueError(f"offset must be in [0, 99999999], got {offset}")
    return f"{pos}{offset:08d}"


@dataclass(frozen=True)
class Query:
    """One query: a WordNet example sentence and the sense (gloss) it illustrates."""

    text: str  # what is encoded: QUERY_TEMPLATE filled with lemma and sentence
    sentence: str
    lemma: str
    pos: str
    relevant_id: str  # doc_id of the one relevant gloss


@dataclass(frozen=True)
class RetrievalSplit:
    """Queries and the document collection they are searched against, for one split.

    ``senses`` maps each (lemma, pos) of the split to the doc ids of all its WordNet senses that
    this split owns: the hard negatives of that lemma's queries are its senses minus the answer.
    """

    name: str
    queries: tuple[Query, ...]
    doc_ids: tuple[str, ...]
    doc_texts: tuple[str, ...]
    senses: Mapping[tuple[str, str], tuple[str, ...]] = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.doc_ids) != len(self.doc_texts):
            raise ValueError(
                f"doc_ids and doc_texts must have equal lengths, got {len(self.doc_ids)} and "
                f"{len(self.doc_texts)}"
            )
        if len(set(self.doc_ids)) != len(self.doc_ids):
            raise ValueError("doc_ids must be unique")
        index = {d: i for i, d in enumerate(self.doc_ids)}
        missing = [q.relevant_id for q in self.queries if q.relevant_id not in index]
        if missing:
            raise ValueError(f"every relevant_id must be in doc_ids; missing {missing[:3]}")
        object.__setattr__(self, "_index", index)

    def index_of(self, doc: str) -> int:
        """Row of a doc id in ``doc_ids`` (and in any matrix of document vectors built from it)."""
        return self._index[doc]  # type: ignore[attr-defined]

    @property
    def query_texts(self) -> list[str]:
        """The texts to encode, one per query."""
        return [q.text for q in self.queries]

    @property
    def relevant_indices(self) -> np.ndarray:
        """Row of each query's relevant document in the collection, shape (n_queries,)."""
        return np.array([self.index_of(q.relevant_id) for q in self.queries], dtype=np.int64)

    def hard_negative_ids(self, query: Query) -> tuple[str, ...]:
        """Glosses of the query's lemma's other senses (in this split's collection)."""
        return tuple(d for d in self.senses[(query.lemma, query.pos)] if d != query.relevant_id)

    def subsample(self, n_queries: int, *, seed: int = 0) -> RetrievalSplit:
        """The same collection with ``n_queries`` queries drawn without replacement (seeded).

        The kept queries stay in their original order. Asking for more than there are keeps all.
        """
        if n_queries < 1:
            raise ValueError(f"n_queries must be >= 1, got {n_queries}")
        if n_queries >= len(self.queries):
            return self
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(self.queries), size=n_queries, replace=False))
        return replace(self, queries=tuple(self.queries[i] for i in keep))


@dataclass(frozen=True)
class RetrievalTask:
    """The three splits plus counts of what the leak-free construction removed."""

    train: RetrievalSplit
    dev: RetrievalSplit
    test: RetrievalSplit
    dropped: Mapping[str, int]

    def split(self, name: str) -> RetrievalSplit:
        """A split by name: ``"train"``, ``"dev"`` or ``"test"``."""
        if name not in SPLITS:
            raise ValueError(f"name must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3:
        raise ValueError(f"fractions must hold 3 numbers (train, dev, test), got {fractions!r}")
    if any(not (0.0 <= f <= 1.0) for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be in [0, 1] and sum to 1, got {tuple(fractions)}")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def split_lemmas(
    lemmas: Iterable[Any], *, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0
) -> dict[Any, str]:
    """Assign each distinct lemma (hashable, sortable key) to ``"train"``, ``"dev"`` or ``"test"``.

    Deterministic: the distinct keys are sorted, permuted with ``numpy.random.default_rng(seed)``
    and cut at the cumulative fractions (rounded to whole lemmas). Splitting by lemma, not by
    sentence, keeps a word's senses and sentences out of the other splits.
    """
    f_train, f_dev, _ = _check_fractions(fractions)
    keys = sorted(set(lemmas))
    order = np.random.default_rng(seed).permutation(len(keys))
    n_train = round(f_train * len(keys))
    n_dev = round((f_train + f_dev) * len(keys)) - n_train
    assignment: dict[Any, str] = {}
    for rank, i in enumerate(order):
        name = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
        assignment[keys[i]] = name
    return assignment


def build_wordnet_task(
    *,
    pos: Sequence[str] = ("n", "v"),
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    max_haystack: int | None = None,
    seed: int = 0,
    query_template: str = QUERY_TEMPLATE,
    examples: Sequence[Any] | None = None,
    synsets: Sequence[Any] | None = None,
) -> RetrievalTask:
    """Build the leak-free WordNet retrieval task (queries, collections, relevance labels).

    Args:
        pos: parts of speech to use (``"n"``, ``"v"``).
        fractions: (train, dev, test) shares of the polysemous lemmas.
        max_haystack: cap on each split's haystack glosses (all the split's share when None).
            The senses of the split's own lemmas are always in its collection.
        seed: seeds the lemma split and the haystack sample.
        query_template: ``str.format`` template with ``{lemma}`` and ``{sentence}``.
        examples, synsets: the data (``SenseExample`` and ``Synset`` records from
            ``support.corpora``); read from WordNet when None. Tests pass small fakes.

    Construction, and why each step prevents a leak:

    1. Lemmas (with their part of speech) are split train/dev/test (:func:`split_lemmas`).
    2. Every gloss gets one owner: the highest-priority split (test, then dev, then train) with a
       lemma among its synonyms. A synset shared by a test lemma and a train lemma (``bank`` and
       ``depository financial institution``) is test-only.
    3. A query is kept only if its split owns its answer, its sentence does not occur in a
       higher-priority split, and its (lemma, sentence) is not an example of two senses.
    4. Glosses owned by nobody are dealt to the splits as haystack in the same proportions.
    """
    pos = tuple(pos)
    if not pos or any(p not in ("n", "v", "a", "s", "r") for p in pos):
        raise ValueError(f"pos must be a non-empty subset of ('n', 'v', 'a', 's', 'r'), got {pos}")
    fractions = _check_fractions(fractions)
    if max_haystack is not None and max_haystack < 0:
        raise ValueError(f"max_haystack must be >= 0 or None, got {max_haystack}")
    if "{lemma}" not in query_template and "{sentence}" not in query_template:
        raise ValueError(
            f"query_template must use {{lemma}} or {{sentence}}, got {query_template!r}"
        )
    if examples is None or synsets is None:
        from support.corpora import polysemous_examples, wordnet_synsets

        examples = polysemous_examples(pos=pos) if examples is None else examples
        synsets = wordnet_synsets(pos) if synsets is None else synsets

    # A document is a distinct gloss text: synsets with the same gloss ("restrain") collapse
    # into the first one's id, so no copy of an answer sits elsewhere in a collection.
    gloss: dict[str, str] = {}
    canonical: dict[str, str] = {}
    first_with_text: dict[str, str] = {}
    lemma_senses: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in synsets:
        if s.pos not in pos:
            continue
        d = first_with_text.setdefault(s.gloss, doc_id(s.pos, s.offset))
        canonical[doc_id(s.pos, s.offset)] = d
        gloss[d] = s.gloss
        for lemma in s.lemmas:
            if d not in lemma_senses[(lemma, s.pos)]:
                lemma_senses[(lemma, s.pos)].append(d)

    examples = [e for e in examples if e.pos in pos]
    assignment = split_lemmas({(e.lemma, e.pos) for e in examples}, fractions=fractions, seed=seed)

    owner: dict[str, str] = {}
    for name in _PRIORITY:
        for key in sorted(k for k, v in assignment.items() if v == name):
            for d in lemma_senses.get(key, ()):
                owner.setdefault(d, name)

    # Sentences of (lemma, sentence) pairs that illustrate two senses have no single answer.
    senses_of_example: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for e in examples:
        answer = canonical.get(doc_id(e.pos, e.synset_offset), "")
        senses_of_example[(e.lemma, e.pos, e.sentence)].add(answer)

    dropped = {"answer_owned_elsewhere": 0, "sentence_in_other_split": 0, "ambiguous": 0}
    claimed: set[str] = set()  # sentences of higher-priority splits
    queries: dict[str, list[Query]] = {name: [] for name in SPLITS}
    for name in _PRIORITY:
        kept_sentences: set[str] = set()
        seen: set[tuple[str, str, str]] = set()
        for e in examples:
            key = (e.lemma, e.pos)
            if assignment[key] != name:
                continue
            answer = canonical.get(doc_id(e.pos, e.synset_offset), "")
            if (e.lemma, e.pos, e.sentence) in seen:
                continue  # the same example listed twice
            seen.add((e.lemma, e.pos, e.sentence))
            if len(senses_of_example[(e.lemma, e.pos, e.sentence)]) > 1:
                dropped["ambiguous"] += 1
            elif owner.get(answer) != name or answer not in gloss:
                dropped["answer_owned_elsewhere"] += 1
            elif e.sentence.lower() in claimed:
                dropped["sentence_in_other_split"] += 1
            else:
                text = query_template.format(lemma=e.lemma, sentence=e.sentence)
                queries[name].append(Query(text, e.sentence, e.lemma, e.pos, answer))
                kept_sentences.add(e.sentence.lower())
        claimed |= kept_sentences

    # Haystack: glosses nobody owns, dealt out in a seeded order by the same fractions.
    free = sorted(d for d in gloss if d not in owner)
    order = np.random.default_rng(seed + 1).permutation(len(free))
    cut_train = round(fractions[0] * len(free))
    cut_dev = round((fractions[0] + fractions[1]) * len(free))
    pools = {
        "train": [free[i] for i in order[:cut_train]],
        "dev": [free[i] for i in order[cut_train:cut_dev]],
        "test": [free[i] for i in order[cut_dev:]],
    }

    splits: dict[str, RetrievalSplit] = {}
    for name in SPLITS:
        own = sorted(d for d, o in owner.items() if o == name and d in gloss)
        hay = pools[name] if max_haystack is None else pools[name][:max_haystack]
        ids = tuple(own + sorted(hay))
        senses = {
            key: tuple(d for d in lemma_senses.get(key, ()) if owner.get(d) == name)
            for key, v in assignment.items()
            if v == name
        }
        splits[name] = RetrievalSplit(
            name=name,
            queries=tuple(queries[name]),
            doc_ids=ids,
            doc_texts=tuple(gloss[d] for d in ids),
            senses=senses,
        )
    return RetrievalTask(splits["train"], splits["dev"], splits["test"], dropped)


def bi_encoder_pairs(
    split: RetrievalSplit, *, max_pairs: int | None = None, seed: int = 0
) -> dict[str, list[str]]:
    """(anchor, positive) training pairs for in-batch-negatives training: query text and its gloss.

    Returns columns ``{"anchor": [...], "positive": [...]}`` (a ``datasets.Dataset.from_dict``
    input), at most ``max_pairs`` rows sampled with a seeded generator.
    """
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1 or None, got {max_pairs}")
    chosen = split if max_pairs is None else split.subsample(max_pairs, seed=seed)
    texts = chosen.doc_texts
    return {
        "anchor": [q.text for q in chosen.queries],
        "positive": [texts[chosen.index_of(q.relevant_id)] for q in chosen.queries],
    }


def cross_encoder_pairs(
    split: RetrievalSplit,
    *,
    max_queries: int | None = None,
    n_hard: int = 1,
    n_random: int = 1,
    seed: int = 0,
) -> dict[str, list[Any]]:
    """Labelled (query, document, label) pairs for a pointwise cross-encoder.

    Per sampled query: its gloss (label 1), up to ``n_hard`` glosses of the lemma's other senses
    (label 0, the hard negatives) and ``n_random`` other glosses of the split's collection
    (label 0, so the model also learns to reject off-topic text it will meet in a top-k list).
    Returns columns ``{"query", "document", "label"}`` (labels are floats 0.0/1.0).
    """
    if n_hard < 0 or n_random < 0:
        raise ValueError(f"n_hard and n_random must be >= 0, got {n_hard} and {n_random}")
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"max_queries must be >= 1 or None, got {max_queries}")
    chosen = split if max_queries is None else split.subsample(max_queries, seed=seed)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {"query": [], "document": [], "label": []}

    def add(query: Query, doc: str, label: float) -> None:
        rows["query"].append(query.text)
        rows["document"].append(chosen.doc_texts[chosen.index_of(doc)])
        rows["label"].append(label)

    n_docs = len(chosen.doc_ids)
    for q in chosen.queries:
        add(q, q.relevant_id, 1.0)
        hard = list(chosen.hard_negative_ids(q))
        if hard and n_hard:
            for j in rng.permutation(len(hard))[:n_hard]:
                add(q, hard[j], 0.0)
        own = set(chosen.senses[(q.lemma, q.pos)])
        picked = 0
        while picked < n_random and n_docs > len(own):
            doc = chosen.doc_ids[int(rng.integers(n_docs))]
            if doc not in own:
                add(q, doc, 0.0)
                picked += 1
    return rows


# =========================================================================== the bi-encoder


def mean_pool(token_embeddings: Any, attention_mask: Any) -> Any:
    """Average of the token vectors where ``attention_mask`` is 1 (padding does not count).

    ``token_embeddings``: (batch, tokens, dim) float tensor; ``attention_mask``: (batch, tokens).
    Returns (batch, dim). The denominator is clamped so an all-padding row gives zeros, not NaN.
    """
    if token_embeddings.ndim != 3 or attention_mask.shape != token_embeddings.shape[:2]:
        raise ValueError(
            "token_embeddings must be (batch, tokens, dim) and attention_mask (batch, tokens), got "
            f"{tuple(token_embeddings.shape)} and {tuple(attention_mask.shape)}"
        )
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    summed = (token_embeddings * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return summed / counts


def encode(
    texts: str | Sequence[str],
    model: Any,
    tokenizer: Any,
    *,
    batch_size: int = 64,
    max_length: int = 256,
    normalize: bool = True,
) -> np.ndarray:
    """Sentence vectors from a BERT-style encoder: tokenise, run, mean-pool, L2-normalise.

    ``model`` is a transformers encoder (e.g. ``BertModel``) returning ``last_hidden_state``;
    ``tokenizer`` its tokenizer; texts longer than ``max_length`` tokens are truncated. A string
    gives a vector of shape (dim,), a list gives (n, dim), float32. Texts are batched longest
    first (less padding), and the rows are returned in the input order.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {max_length}")
    single = isinstance(texts, str)
    items = [texts] if single else list(texts)
    if not all(isinstance(t, str) for t in items):
        raise ValueError("texts must be a string or a sequence of strings")
    dim = int(model.config.hidden_size)
    if not items:
        return np.zeros((0, dim), dtype=np.float32)
    order = np.argsort([-len(t) for t in items], kind="stable")
    out = np.empty((len(items), dim), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(items), batch_size):
                rows = order[start : start + batch_size]
                batch = tokenizer(
                    [items[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(model.device)
                hidden = model(**batch).last_hidden_state
                pooled = mean_pool(hidden, batch["attention_mask"])
                if normalize:  # unit length, so a dot product is the cosine
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[rows] = pooled.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out[0] if single else out


def sentence_transformer_parts(model: Any) -> tuple[Any, Any, int]:
    """(transformers encoder, tokenizer, max_length) inside a ``SentenceTransformer``.

    Lets :func:`encode` run on a fine-tuned sentence-transformers model's weights.
    """
    first = model[0]
    return first.auto_model, model.tokenizer, int(model.max_seq_length)


def exact_search(
    query_vectors: np.ndarray,
    doc_vectors: np.ndarray,
    k: int,
    *,
    check_normalized: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k cosine search: score every document, keep the k best (brute force).

    Vectors must be L2-normalised (then the dot product is the cosine). Returns ``(scores,
    indices)``, each (n_queries, k), best first, ties broken by lower document index; a single
    query vector (dim,) gives arrays of shape (k,). Cost: one (n_queries x dim) by (dim x n_docs)
    matrix product plus a partial sort, linear in the collection size; an approximate index
    (HNSW, IVF) replaces this when that product gets too slow.
    """
    q = np.asarray(query_vectors, dtype=np.float32)
    docs = np.asarray(doc_vectors, dtype=np.float32)
    single = q.ndim == 1
    q = q[None, :] if single else q
    if q.ndim != 2 or docs.ndim != 2 or q.shape[1] != docs.shape[1]:
        raise ValueError(
            "query_vectors must be (dim,) or (n, dim) and doc_vectors (n_docs, dim) with the same "
            f"dim, got {np.shape(query_vectors)} and {np.shape(doc_vectors)}"
        )
    if not 1 <= k <= docs.shape[0]:
        raise ValueError(f"k must be in [1, {docs.shape[0]}] (the number of documents), got {k}")
    if check_normalized:
        for name, m in (("query_vectors", q), ("doc_vectors", docs)):
            norms = np.linalg.norm(m, axis=1)
            if not np.allclose(norms, 1.0, atol=1e-3):
                raise ValueError(f"{name} must be L2-normalised; norms span {norms.min():.4g}..")
    scores = q @ docs.T
    if k < docs.shape[0]:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(docs.shape[0]), scores.shape).copy()
    top_scores = np.take_along_axis(scores, top, axis=1)
    # lexsort sorts by its last key first: score descending, then index ascending.
    order = np.lexsort((top, -top_scores), axis=1)
    indices = np.take_along_axis(top, order, axis=1)
    best = np.take_along_axis(top_scores, order, axis=1)
    return (best[0], indices[0]) if single else (best, indices)


# =========================================================================== metrics


def _check_ranking(ranked: Sequence[Any], k: int) -> list[Any]:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    items = list(ranked)
    if len(set(items)) != len(items):
        raise ValueError("ranked must not repeat a document")
    return items[:k]


def recall_at_k(ranked: Sequence[Any], relevant: Iterable[Any], k: int) -> float:
    """Share of the relevant documents found in the first k of ``ranked`` (0 to 1).

    With one relevant document per query this is the hit rate at k.
    """
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant must hold at least one document")
    return len(rel.intersection(_check_ranking(ranked, k))) / len(rel)


def precision_at_k(ranked: Sequence[Any], relevant: Iterable[Any], k: int) -> float:
    """Share of the first k positions that hold a relevant document (0 to 1).

    Divides by k even when fewer than k documents are ranked (an empty slot is not relevant),
    so with one relevant document precision@k is at most 1/k.
    """
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant must hold at least one document")
    return len(rel.intersection(_check_ranking(ranked, k))) / k


def reciprocal_rank(ranked: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """1 / rank of the first relevant document within the first k, else 0 (MRR@k per query)."""
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant must hold at least one document")
    for rank, doc in enumerate(_check_ranking(ranked, k), start=1):
        if doc in rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[Any], relevant: Iterable[Any], k: int = 10) -> float:
    """Normalised discounted cumulative gain at k with binary relevance (0 to 1).

    DCG@k = sum over positions i = 1..k holding a relevant document of 1 / log2(i + 1); it is
    divided by the DCG of the ideal ranking, which puts min(k, |relevant|) relevant documents
    first (Järvelin & Kekäläinen 2002).
    """
    rel = set(relevant)
    if not rel:
        raise ValueError("relevant must hold at least one document")
    top = _check_ranking(ranked, k)
    dcg = sum(1.0 / math.log2(i + 1) for i, doc in enumerate(top, start=1) if doc in rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(rel)) + 1))
    return dcg / ideal


def retrieval_metrics(
    rankings: Sequence[Sequence[Any]] | np.ndarray,
    relevant: Sequence[Any] | np.ndarray,
    *,
    recall_ks: Sequence[int] = (1, 5, 10),
    precision_ks: Sequence[int] = (1, 5),
) -> dict[str, np.ndarray]:
    """Per-query metrics, one array of shape (n_queries,) per name.

    ``rankings[i]`` is query i's ranked document ids (or rows); ``relevant[i]`` its relevant
    document, or a set of them. Names: ``recall@k``, ``precision@k``, ``mrr@10``, ``ndcg@10``.
    Averaging an array gives the usual collection-level number; keeping queries apart lets the
    notebook bootstrap intervals over queries.
    """
    if len(rankings) != len(relevant):
        raise ValueError(
            "rankings and relevant must have equal lengths, got "
            f"{len(rankings)} and {len(relevant)}"
        )
    rel_sets = [r if isinstance(r, (set, frozenset, list, tuple)) else {r} for r in relevant]
    rel_sets = [{x.item() if hasattr(x, "item") else x for x in r} for r in rel_sets]
    ranked_lists = [[x.item() if hasattr(x, "item") else x for x in r] for r in rankings]
    pairs = list(zip(ranked_lists, rel_sets, strict=True))

    def per_query(metric: Callable[[list[Any], set[Any], int], float], k: int) -> np.ndarray:
        return np.array([metric(r, s, k) for r, s in pairs], dtype=float)

    out: dict[str, np.ndarray] = {}
    for k in recall_ks:
        out[f"recall@{k}"] = per_query(recall_at_k, k)
    for k in precision_ks:
        out[f"precision@{k}"] = per_query(precision_at_k, k)
    out["mrr@10"] = per_query(reciprocal_rank, 10)
    out["ndcg@10"] = per_query(ndcg_at_k, 10)
    return out


# =========================================================================== the cross-encoder


def cross_encoder_scores(
    model: Any, queries: Sequence[str], documents: Sequence[str], *, batch_size: int = 64
) -> np.ndarray:
    """Relevance logits of a one-logit ``CrossEncoder`` for each (query, document) pair.

    Both texts go through the encoder together (``[CLS] query [SEP] document [SEP]``), so every
    pair costs a forward pass: no document vector can be computed ahead of the query. Returns
    float32 logits, shape (n_pairs,); higher means more relevant (no sigmoid: ranking only).
    """
    if len(queries) != len(documents):
        raise ValueError(
            "queries and documents must have equal lengths, got "
            f"{len(queries)} and {len(documents)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not queries:
        return np.zeros(0, dtype=np.float32)
    import torch

    scores = model.predict(
        list(zip(queries, documents, strict=True)),
        batch_size=batch_size,
        show_progress_bar=False,
        activation_fn=torch.nn.Identity(),
        convert_to_numpy=True,
    )
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def rerank_top_k(candidates: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Reorder the first ``k`` candidates of each row by ``scores``; later ranks stay as they were.

    ``candidates`` (n, K) are the bi-encoder's ranked document rows, ``scores`` (n, K) the
    cross-encoder's scores for those same candidates (only the first k columns are used). Ties
    keep the bi-encoder's order. Returns a new (n, K) array; the inputs are not changed.
    """
    cand = np.asarray(candidates)
    sc = np.asarray(scores)
    if cand.ndim != 2 or cand.shape != sc.shape:
        raise ValueError(
            f"candidates and scores must be 2-D with equal shapes, got {cand.shape} and {sc.shape}"
        )
    if not 1 <= k <= cand.shape[1]:
        raise ValueError(f"k must be in [1, {cand.shape[1]}] (candidates per query), got {k}")
    out = cand.copy()
    order = np.argsort(-sc[:, :k], axis=1, kind="stable")
    out[:, :k] = np.take_along_axis(cand[:, :k], order, axis=1)
    return out


# =========================================================================== fine-tuning


@contextmanager
def _quiet_training() -> Iterator[None]:
    """Silence training's progress bars, info logs and model-conversion notices, then restore.

    Everything a trainer would print lands in the book's outputs, where the build forbids it.
    """
    import datasets
    import transformers

    tf_logging = transformers.utils.logging
    verbosity, bars = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
    ds_verbosity, ds_bars = datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    st_logger = logging.getLogger("sentence_transformers")
    st_level = st_logger.level
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    # "Converting SentenceTransformer model ... to CrossEncoder" is a warning we expect.
    st_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        tf_logging.set_verbosity(verbosity)
        if bars:
            tf_logging.enable_progress_bar()
        datasets.logging.set_verbosity(ds_verbosity)
        if ds_bars:
            datasets.enable_progress_bars()
        st_logger.setLevel(st_level)


def _skip_model_card_widget(model: Any) -> None:
    """Stop the trainer from sampling model-card widget examples from the training data.

    That sampling prints a progress bar and draws from Python's global ``random`` state; the
    model card is never saved here, so a placeholder keeps the trainer from doing it.
    """
    model.model_card_data.generate_widget_examples = False
    model.model_card_data.widget = [{"text": "(model card not generated)"}]


def _train_quietly(trainer: Any, model: Any) -> None:
    """Run ``trainer.train()`` without printing: no metrics dict, no model-card widget bar."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints the final metrics dict to stdout
    trainer.train()
    model.eval()


def _training_args(cls: Any, out_dir: str, **kwargs: Any) -> Any:
    """Trainer arguments shared by both fine-tunings: CPU, seeded, no logging, no checkpoints."""
    return cls(
        output_dir=out_dir,
        warmup_steps=0.1,  # a float below 1 is a fraction of the steps
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        save_strategy="no",
        use_cpu=True,
        **kwargs,
    )


def fine_tune_bi_encoder(
    model: Any,
    pairs: Mapping[str, Sequence[str]],
    *,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 2e-5,
    max_seq_length: int = 64,
    seed: int = 0,
) -> Any:
    """Fine-tune a ``SentenceTransformer`` in place with MultipleNegativesRankingLoss.

    ``pairs``: columns ``anchor`` and ``positive`` (:func:`bi_encoder_pairs`). Each anchor's
    positive must beat the other ``batch_size - 1`` positives of its batch (in-batch negatives,
    a softmax over scaled cosines); batches never hold the same text twice, so no in-batch
    negative is secretly a positive. ``max_seq_length`` (tokens) is set on the model and kept.
    Trainer files go to a temporary folder that is deleted afterwards. Returns the model.
    """
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"epochs must be >= 1 and batch_size >= 2, got {epochs} and {batch_size}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if set(pairs) != {"anchor", "positive"}:
        raise ValueError(f"pairs must have columns anchor and positive, got {sorted(pairs)}")
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model.max_seq_length = max_seq_length
    _skip_model_card_widget(model)
    data = Dataset.from_dict({"anchor": list(pairs["anchor"]), "positive": list(pairs["positive"])})
    with _quiet_training(), tempfile.TemporaryDirectory(prefix="bi-encoder-") as out_dir:
        args = _training_args(
            SentenceTransformerTrainingArguments,
            out_dir,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            seed=seed,
            data_seed=seed,
        )
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
        )
        _train_quietly(trainer, model)
    return model


def train_cross_encoder(
    model_path: str,
    pairs: Mapping[str, Sequence[Any]],
    *,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    max_length: int = 64,
    seed: int = 0,
) -> Any:
    """Train a cross-encoder reranker from a pretrained encoder with a fresh one-logit head.

    ``model_path``: folder or hub id of the pretrained encoder (the same weights as the
    bi-encoder); its classification head does not exist yet and is initialised at random
    (seeded). ``pairs``: columns ``query``, ``document``, ``label`` (:func:`cross_encoder_pairs`),
    trained with binary cross-entropy on the logit. Pairs are truncated to ``max_length``
    tokens. Returns the trained ``CrossEncoder`` in eval mode.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if set(pairs) != {"query", "document", "label"}:
        raise ValueError(f"pairs must have columns query, document, label, got {sorted(pairs)}")
    import torch
    from datasets import Dataset
    from sentence_transformers import CrossEncoder, CrossEncoderTrainer
    from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    data = Dataset.from_dict(
        {
            "query": list(pairs["query"]),
            "document": list(pairs["document"]),
            "label": [float(x) for x in pairs["label"]],
        }
    )
    with _quiet_training(), tempfile.TemporaryDirectory(prefix="cross-encoder-") as out_dir:
        torch.manual_seed(seed)  # the new head's initial weights
        model = CrossEncoder(
            model_path,
            num_labels=1,
            max_length=max_length,
            device="cpu",
            model_kwargs={"use_safetensors": True},
        )
        _skip_model_card_widget(model)
        args = _training_args(
            CrossEncoderTrainingArguments,
            out_dir,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            data_seed=seed,
        )
        trainer = CrossEncoderTrainer(
            model=model, args=args, train_dataset=data, loss=BinaryCrossEntropyLoss(model)
        )
        _train_quietly(trainer, model)
    return model


# =========================================================================== latency


def measure_ms(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> np.ndarray:
    """Wall-clock milliseconds of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls.

    Returns the per-call times (shape (repeats,)); report the median, which shrugs off the odd
    call slowed by other processes on a shared machine.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        times[i] = (time.perf_counter() - start) * 1000.0
    return times


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one thread: torch's intra-op pool, OpenMP and numpy's BLAS.

    Latency here means one query on one core, which is how a server answering many queries at
    once runs each of them. It is also the measurement that other work on a shared machine
    disturbs least: waking a second thread on a busy core can cost more than it saves.
    The previous thread settings are restored afterwards.
    """
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def per_item_ms(
    fn: Callable[[Any], Any], items: Iterable[Any], *, repeats: int = 3, warmup: int = 1
) -> np.ndarray:
    """Median wall-clock milliseconds of ``fn(item)`` for each item (e.g. one query at a time).

    Each item is run ``warmup`` times untimed, then ``repeats`` times timed (:func:`measure_ms`).
    Returns one median per item; their mean is the average latency a user sees.
    """
    return np.array(
        [np.median(measure_ms(lambda x=x: fn(x), repeats=repeats, warmup=warmup)) for x in items]
    )


def search_ms_by_size(
    sizes: Sequence[int],
    *,
    dim: int = 384,
    k: int = 10,
    repeats: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Median milliseconds of one exact top-k search for one query, per collection size.

    The collection is random unit vectors (the cost of brute force does not depend on what the
    vectors mean). Query encoding is not included: it does not depend on the collection size.
    Returns an array with one median per entry of ``sizes``.
    """
    if not sizes or any(n < k for n in sizes):
        raise ValueError(f"sizes must be non-empty and each >= k={k}, got {list(sizes)}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    rng = np.random.default_rng(seed)
    query = rng.standard_normal(dim).astype(np.float32)
    query /= np.linalg.norm(query)
    biggest = rng.standard_normal((max(sizes), dim)).astype(np.float32)
    biggest /= np.linalg.norm(biggest, axis=1, keepdims=True)
    medians = []
    for n in sizes:
        docs = np.ascontiguousarray(biggest[:n])
        times = measure_ms(
            lambda docs=docs: exact_search(query, docs, k, check_normalized=False),
            repeats=repeats,
            warmup=1,
        )
        medians.append(float(np.median(times)))
    return np.array(medians)


def fit_linear_cost(sizes: Sequence[float], ms: Sequence[float]) -> tuple[float, float]:
    """Least-squares line ``ms = intercept + slope * size``: (intercept in ms, slope in ms per doc).

    Used to extrapolate a measured cost to collection sizes too big to try.
    """
    x = np.asarray(sizes, dtype=float)
    y = np.asarray(ms, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2 or len(np.unique(x)) < 2:
        raise ValueError(
            f"sizes and ms must be 1-D of equal length with >= 2 distinct sizes, got {x} and {y}"
        )
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept), float(slope)
