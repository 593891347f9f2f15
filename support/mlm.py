"""Masked language modelling (BERT): the masking recipe, contextual word vectors, word-in-context.

Four pieces, in the order the chapter uses them:

1. :func:`bert_mask` and :func:`masked_lm_loss` -- BERT's corruption (choose 15% of the
   positions; of those, 80% become ``[MASK]``, 10% a random token, 10% stay) and the loss that
   is computed on the chosen positions only (Devlin et al., 2019, "BERT", section 3.1).
2. :func:`contextual_word_vectors` and :func:`static_word_vectors` -- one vector per layer for a
   word inside a sentence, read from a pretrained encoder, and the context-free baseline (the
   encoder's own input-embedding row, the thing a word2vec/GloVe table gives).
3. Word-in-context evaluation (Pilehvar & Camacho-Collados, 2019, "WiC"):
   :func:`build_wic_pairs`, :func:`split_by_lemma`, :func:`fit_threshold`, :func:`wic_by_layer`,
   and sense clustering scored with :func:`adjusted_rand_index`.
4. :class:`TiedMLMHead` and :func:`fit_mlm_head` -- a small masked-LM head fitted on a *frozen*
   encoder, its output matrix tied to the encoder's input embeddings, plus :func:`fill_mask`.

The causal-versus-masked comparison on the tiny transformer (``support.tinylm``) lives in
between: :func:`train_tiny_lm`, :func:`compare_objectives` (with :func:`rescored_logprobs`, a
causal model's exact posterior given both sides) and :func:`masked_lm_generate`.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:  # pragma: no cover - typing only
    from support.corpora import SenseExample

IGNORE_INDEX = -100
"""Label value that :func:`masked_lm_loss` (and ``torch.nn.functional.cross_entropy``) skips."""

# Codes stored in MaskedBatch.action
NOT_CHOSEN, MASKED, RANDOM, KEPT = 0, 1, 2, 3


# --------------------------------------------------------------------------------------------
# 1. BERT masking and the masked-LM loss
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedBatch:
    """The result of :func:`bert_mask`; every tensor has the shape of the input ids.

    Attributes:
        input_ids: the corrupted ids the model reads.
        labels: the original id at chosen positions, :data:`IGNORE_INDEX` elsewhere.
        chosen: ``True`` where the loss is computed (about ``mask_prob`` of eligible positions).
        action: what happened at each position: 0 not chosen, 1 replaced by the mask id,
            2 replaced by a random id, 3 chosen but kept unchanged.
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    chosen: torch.Tensor
    action: torch.Tensor


def _check_probability(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}={value!r} must be a probability in [0, 1]")


def bert_mask(
    input_ids: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_token_ids: Sequence[int] = (),
    mask_prob: float = 0.15,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    generator: torch.Generator | None = None,
) -> MaskedBatch:
    """Corrupt token ids the way BERT's pre-training does.

    Each eligible position (not a special token) is chosen independently with probability
    ``mask_prob``. A chosen position becomes ``mask_token_id`` with probability
    ``mask_fraction``, a token drawn uniformly from the non-special ids in ``[0, vocab_size)``
    with probability ``random_fraction``, and stays as it is otherwise
    (``1 - mask_fraction - random_fraction``; 10% in BERT). The labels keep the original id at
    the chosen positions only, so the loss ignores everything else.

    Why the 10%/10%: if the model only ever saw ``[MASK]`` at the positions it is asked about,
    it could ignore the representation of every real token; random and unchanged tokens force
    it to keep a good contextual vector at every position, and ``[MASK]`` never appears at
    fine-tuning time.

    Args:
        input_ids: integer tensor of any shape (typically ``[batch, time]``); not modified.
        mask_token_id: id written at masked positions.
        vocab_size: number of ids; random replacements come from ``[0, vocab_size)``.
        special_token_ids: ids never chosen and never drawn as random replacements
            (padding, ``[CLS]``, ``[SEP]``, the mask id itself...).
        mask_prob: probability that an eligible position is chosen, in [0, 1].
        mask_fraction: share of chosen positions replaced by the mask id, in [0, 1].
        random_fraction: share replaced by a random id; ``mask_fraction + random_fraction``
            must not exceed 1.
        generator: source of randomness (seed it for reproducible corruption).

    Returns:
        A :class:`MaskedBatch` with tensors shaped like ``input_ids``.

    Example:
        >>> ids = torch.tensor([[101, 7592, 2088, 102]])
        >>> b = bert_mask(ids, mask_token_id=103, vocab_size=30522, special_token_ids=(101, 102),
        ...               mask_prob=1.0, mask_fraction=1.0, random_fraction=0.0)
        >>> b.input_ids.tolist(), b.labels.tolist()
        ([[101, 103, 103, 102]], [[-100, 7592, 2088, -100]])
    """
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (
        torch.int64,
        torch.int32,
    ):
        raise ValueError("input_ids must be an integer torch.Tensor (int64 or int32)")
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise ValueError(f"vocab_size={vocab_size!r} must be an integer >= 2")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id={mask_token_id!r} must be in [0, {vocab_size})")
    _check_probability("mask_prob", mask_prob)
    _check_probability("mask_fraction", mask_fraction)
    _check_probability("random_fraction", random_fraction)
    if mask_fraction + random_fraction > 1.0 + 1e-12:
        raise ValueError(
            f"mask_fraction + random_fraction = {mask_fraction + random_fraction!r} must be <= 1"
        )
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        raise ValueError(f"input_ids must lie in [0, {vocab_size}) (vocab_size)")
    special = torch.tensor(sorted(set(special_token_ids)), dtype=torch.long)
    if special.numel() and (int(special.min()) < 0 or int(special.max()) >= vocab_size):
        raise ValueError(f"special_token_ids must lie in [0, {vocab_size}) (vocab_size)")

    device = input_ids.device
    ids = input_ids.long()
    eligible = ~torch.isin(ids, special.to(device))
    # One uniform number decides whether a position is chosen, a second one what happens
    # to it; drawing both for every position keeps the randomness independent of the data.
    u_choose = torch.rand(ids.shape, generator=generator, device=device)
    u_action = torch.rand(ids.shape, generator=generator, device=device)
    chosen = eligible & (u_choose < mask_prob)
    masked = chosen & (u_action < mask_fraction)
    randomised = chosen & ~masked & (u_action < mask_fraction + random_fraction)

    # Random replacements: uniform over the ordinary (non-special) ids.
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special] = False
    ordinary = torch.nonzero(allowed).squeeze(1).to(device)
    if ordinary.numel() == 0:
        raise ValueError("special_token_ids cover the whole vocabulary: nothing to draw from")
    draw = torch.randint(
        len(ordinary), ids.shape, generator=generator, device=device, dtype=torch.long
    )
    random_ids = ordinary[draw]

    corrupted = torch.where(masked, torch.full_like(ids, mask_token_id), ids)
    corrupted = torch.where(randomised, random_ids, corrupted)
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    action = torch.zeros(ids.shape, dtype=torch.int8, device=device)
    action[chosen] = KEPT
    action[masked] = MASKED
    action[randomised] = RANDOM
    return MaskedBatch(
        input_ids=corrupted.to(input_ids.dtype), labels=labels, chosen=chosen, action=action
    )


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per predicted token) over the positions whose label is set.

    Positions labelled :data:`IGNORE_INDEX` contribute nothing, whatever their logits.

    Args:
        logits: ``[..., vocab]`` unnormalised scores.
        labels: ``[...]`` target ids, :data:`IGNORE_INDEX` where there is nothing to predict.

    Returns:
        A scalar tensor (differentiable with respect to ``logits``).
    """
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits.shape[:-1]={tuple(logits.shape[:-1])} must equal "
            f"labels.shape={tuple(labels.shape)}"
        )
    keep = labels != IGNORE_INDEX
    if not bool(keep.any()):
        raise ValueError("labels: no position is chosen (all are IGNORE_INDEX); the loss is 0/0")
    # Select first, then normalise: cheaper for large vocabularies and identical in value.
    return F.cross_entropy(logits[keep].float(), labels[keep].long())


def attention_mask_matrix(seq_len: int, *, causal: bool) -> torch.Tensor:
    """Which keys each query may attend to: ``[seq_len, seq_len]`` bool, row = query.

    Causal: position ``i`` sees ``0..i`` (lower triangle). Bidirectional: every position.
    """
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len={seq_len!r} must be an integer >= 1")
    full = torch.ones(seq_len, seq_len, dtype=torch.bool)
    return torch.tril(full) if causal else full


# --------------------------------------------------------------------------------------------
# 2. Contextual and static word vectors from a pretrained encoder
# --------------------------------------------------------------------------------------------


class EncoderLike(Protocol):
    """What the functions below need: ``support.models.Encoder`` satisfies it."""

    model: nn.Module
    tokenizer: object


def find_word_span(sentence: str, word: str) -> tuple[int, int]:
    """Character span ``[start, end)`` of the first occurrence of ``word`` in ``sentence``.

    Matching ignores case, needs word boundaries on both sides, and lets the spaces of a
    multi-word lemma match spaces, hyphens or underscores. If the exact form is absent, an
    inflected form that extends the word (``bank`` -> ``banks``, ``banked``) is accepted.

    Raises:
        ValueError: if neither the word nor a form starting with it occurs.

    Example:
        >>> find_word_span("He sat on the Bank.", "bank")
        (14, 18)
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word={word!r} must be a non-empty string")
    parts = [re.escape(p) for p in word.strip().split()]
    core = r"[\s_-]+".join(parts)
    for pattern in (rf"(?<!\w){core}(?!\w)", rf"(?<!\w){core}\w*"):
        m = re.search(pattern, sentence, flags=re.IGNORECASE)
        if m:
            return m.start(), m.end()
    raise ValueError(f"word={word!r} does not occur in sentence={sentence!r}")


def _token_positions(offsets: Sequence[tuple[int, int]], span: tuple[int, int]) -> list[int]:
    """Indices of the (non-special) tokens whose character offsets overlap ``span``."""
    start, end = span
    return [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]


@torch.no_grad()
def contextual_word_vectors(
    encoder: EncoderLike,
    sentences: str | Sequence[str],
    targets: str | tuple[int, int] | Sequence[str | tuple[int, int]],
    *,
    batch_size: int = 64,
    max_length: int = 128,
) -> np.ndarray:
    """Hidden state of a word inside a sentence at every layer of a BERT-style encoder.

    The word's vector at a layer is the mean of the hidden states of its word pieces
    (``bank`` is one piece, ``riverbank`` two). Layer 0 is the embedding layer's output
    (token + position + segment embedding, layer-normalised); layer ``k`` is the output of
    transformer block ``k``.

    Args:
        encoder: an object with ``.model`` (a transformers BERT model) and ``.tokenizer``
            (a fast tokenizer, for character offsets), e.g. ``support.models.load_encoder()``.
        sentences: one sentence or a list.
        targets: for each sentence, the word to read (located with :func:`find_word_span`)
            or its character span ``(start, end)``; a single word or span applies to every
            sentence.
        batch_size: sentences per forward pass (>= 1).
        max_length: tokens per sentence after truncation (>= 8); the word must lie inside.

    Returns:
        ``float32`` array ``[n_layers + 1, hidden]`` for one sentence, or
        ``[n_sentences, n_layers + 1, hidden]`` for a list.

    Example:
        >>> v = contextual_word_vectors(enc, ["he sat on the bank", "the bank was shut"], "bank")
        >>> v.shape  # all-MiniLM-L6-v2: 6 blocks + embeddings, 384 wide
        (2, 7, 384)
    """
    single = isinstance(sentences, str)
    sent_list = [sentences] if single else list(sentences)
    one_target = isinstance(targets, str) or (
        isinstance(targets, tuple) and len(targets) == 2 and isinstance(targets[0], int)
    )
    target_list = [targets] * len(sent_list) if one_target else list(targets)
    if len(target_list) != len(sent_list):
        raise ValueError(
            f"targets has {len(target_list)} entries but sentences has {len(sent_list)}; "
            "give one word or span per sentence"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if not isinstance(max_length, int) or max_length < 8:
        raise ValueError(f"max_length={max_length!r} must be an integer >= 8")
    spans = []
    for sentence, target in zip(sent_list, target_list, strict=True):
        if isinstance(target, str):
            spans.append(find_word_span(sentence, target))
        else:
            start, end = (int(t) for t in target)
            if not 0 <= start < end <= len(sentence):
                raise ValueError(
                    f"span={target!r} must satisfy 0 <= start < end <= {len(sentence)} "
                    f"(the length of sentence {sentence!r})"
                )
            spans.append((start, end))
    model, tok = encoder.model, encoder.tokenizer
    out: list[np.ndarray] = []
    for lo in range(0, len(sent_list), batch_size):
        batch = sent_list[lo : lo + batch_size]
        enc = tok(
            batch,
            padding=True,
            truncation=True,
            max_length=max_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").tolist()
        hidden = model(**enc, output_hidden_states=True).hidden_states
        stacked = torch.stack(hidden, dim=1)  # [batch, layers + 1, time, hidden]
        for j, span in enumerate(spans[lo : lo + batch_size]):
            pos = _token_positions(offsets[j], span)
            if not pos:
                raise ValueError(
                    f"word at characters {span} of sentence {batch[j]!r} falls outside the "
                    f"first max_length={max_length} tokens"
                )
            out.append(stacked[j, :, pos, :].mean(dim=1).float().numpy())
    if not out:
        return np.zeros((0, 0, 0), dtype=np.float32)
    arr = np.stack(out).astype(np.float32)
    return arr[0] if single else arr


def example_vectors(
    encoder: EncoderLike, examples: Sequence[SenseExample], *, batch_size: int = 64
) -> np.ndarray:
    """:func:`contextual_word_vectors` of each example's lemma occurrence (its ``span``):
    ``[n_examples, n_layers + 1, hidden]``."""
    return contextual_word_vectors(
        encoder,
        [e.sentence for e in examples],
        [tuple(e.span) for e in examples],
        batch_size=batch_size,
    )


@torch.no_grad()
def static_word_vectors(encoder: EncoderLike, words: str | Sequence[str]) -> np.ndarray:
    """Context-free vector of each word: the mean of its word pieces' input-embedding rows.

    This is the encoder's own lookup table, before position embeddings and before any
    attention: one vector per word *type*, which is what a word2vec or GloVe table provides.
    Every occurrence of ``bank`` gets the same vector, whatever the sentence.

    Returns:
        ``float32`` array ``[hidden]`` for one word, ``[n_words, hidden]`` for a list.
    """
    single = isinstance(words, str)
    word_list = [words] if single else list(words)
    table = encoder.model.get_input_embeddings().weight
    vecs = []
    for w in word_list:
        if not isinstance(w, str) or not w.strip():
            raise ValueError(f"words contains {w!r}; every word must be a non-empty string")
        ids = encoder.tokenizer(w, add_special_tokens=False)["input_ids"]
        vecs.append(table[torch.tensor(ids)].mean(dim=0).float().numpy())
    arr = np.stack(vecs).astype(np.float32)
    return arr[0] if single else arr


# --------------------------------------------------------------------------------------------
# 3. Word in context: same sense or not? And do the senses form clusters?
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WicPair:
    """Two example sentences of the same lemma; ``index_a``/``index_b`` point into the
    example list the pair was built from. ``same_sense`` is the label (same WordNet synset)."""

    lemma: str
    pos: str
    index_a: int
    index_b: int
    same_sense: bool


def _group_by_lemma(examples: Sequence[SenseExample]) -> dict[tuple[str, str], list[int]]:
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[(ex.lemma, ex.pos)].append(i)
    return dict(groups)


def select_wic_lemmas(
    examples: Sequence[SenseExample], *, max_lemmas: int | None = None, seed: int = 0
) -> list[SenseExample]:
    """Keep the examples of lemmas usable for word-in-context: two or more senses, and at
    least one sense with two distinct example sentences (so a same-sense pair exists).

    Args:
        examples: e.g. ``support.corpora.polysemous_examples()``.
        max_lemmas: keep at most this many (lemma, part of speech) groups, drawn at random
            with ``seed``; ``None`` keeps all.
        seed: seed of that draw.

    Returns:
        The kept examples, grouped by lemma, in a deterministic order.
    """
    if max_lemmas is not None and (not isinstance(max_lemmas, int) or max_lemmas < 1):
        raise ValueError(f"max_lemmas={max_lemmas!r} must be None or an integer >= 1")
    usable = []
    for key, idx in sorted(_group_by_lemma(examples).items()):
        by_sense: dict[int, set[str]] = defaultdict(set)
        for i in idx:
            by_sense[examples[i].synset_offset].add(examples[i].sentence)
        if len(by_sense) >= 2 and max(len(s) for s in by_sense.values()) >= 2:
            usable.append(key)
    if max_lemmas is not None and len(usable) > max_lemmas:
        keep = set(random.Random(seed).sample(usable, max_lemmas))
        usable = [k for k in usable if k in keep]
    groups = _group_by_lemma(examples)
    return [examples[i] for key in usable for i in groups[key]]


def build_wic_pairs(
    examples: Sequence[SenseExample], *, pairs_per_lemma: int = 2, seed: int = 0
) -> list[WicPair]:
    """Balanced word-in-context pairs: for each lemma, as many same-sense as different-sense
    pairs (``min(pairs_per_lemma, available same, available different)`` of each).

    Because every lemma contributes equally many pairs of both labels, the whole set is
    exactly balanced, and so is any split by lemma: a classifier that answers the same
    thing for every pair scores exactly 50%.

    Args:
        examples: sentences with lemma and synset (see :func:`select_wic_lemmas`).
        pairs_per_lemma: maximum pairs of each label per lemma (>= 1).
        seed: seed for drawing the pairs.

    Returns:
        Pairs sorted by lemma; indices refer to ``examples``. Two identical sentences are
        never paired.
    """
    if not isinstance(pairs_per_lemma, int) or pairs_per_lemma < 1:
        raise ValueError(f"pairs_per_lemma={pairs_per_lemma!r} must be an integer >= 1")
    rng = random.Random(seed)
    pairs: list[WicPair] = []
    for (lemma, pos), idx in sorted(_group_by_lemma(examples).items()):
        same, different = [], []
        for a_pos, a in enumerate(idx):
            for b in idx[a_pos + 1 :]:
                if examples[a].sentence == examples[b].sentence:
                    continue
                if examples[a].synset_offset == examples[b].synset_offset:
                    same.append((a, b))
                else:
                    different.append((a, b))
        m = min(pairs_per_lemma, len(same), len(different))
        for label, pool in ((True, same), (False, different)):
            for a, b in rng.sample(pool, m):
                pairs.append(WicPair(lemma, pos, a, b, label))
    return pairs


def split_by_lemma(
    lemmas: Sequence[str], *, test_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train and test masks over items, so that no lemma is on both sides.

    Args:
        lemmas: the lemma of each item (pairs, examples...). A lemma's noun and verb senses
            go to the same side.
        test_fraction: share of distinct lemmas sent to the test side, in (0, 1).
        seed: seed of the shuffle.

    Returns:
        ``(train_mask, test_mask)``, complementary boolean arrays of ``len(lemmas)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r} must be in (0, 1)")
    distinct = sorted(set(lemmas))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(distinct))
    n_test = int(round(test_fraction * len(distinct)))
    test_lemmas = {distinct[i] for i in order[:n_test]}
    test = np.array([lem in test_lemmas for lem in lemmas], dtype=bool)
    return ~test, test


def pair_cosines(vectors: np.ndarray, pairs: Sequence[WicPair]) -> np.ndarray:
    """Cosine similarity of each pair's two word vectors, per layer.

    Args:
        vectors: ``[n_examples, n_layers, hidden]`` (or ``[n_examples, hidden]`` for one layer).
        pairs: pairs whose indices refer to the rows of ``vectors``.

    Returns:
        ``[n_layers, n_pairs]`` cosines in [-1, 1] (``[1, n_pairs]`` for 2-D input).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim == 2:
        v = v[:, None, :]
    if v.ndim != 3:
        raise ValueError(f"vectors.ndim={v.ndim} must be 2 or 3")
    a = v[[p.index_a for p in pairs]]
    b = v[[p.index_b for p in pairs]]
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    if np.any(den == 0):
        raise ValueError("vectors: a zero vector has no cosine similarity")
    return np.clip(num / den, -1.0, 1.0).T


def fit_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Threshold ``t`` maximising the accuracy of the rule ``score >= t`` -> positive.

    Candidates are the midpoints between consecutive distinct scores plus one threshold
    below and one above every score (all-positive and all-negative rules). Ties between
    equally good thresholds go to the smallest. If all scores are equal, only the two
    constant rules exist -- this is the static-embedding case.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.ndim != 1 or s.shape != y.shape or s.size == 0:
        raise ValueError(
            f"scores and labels must be non-empty 1-D arrays of equal length, got "
            f"{s.shape} and {y.shape}"
        )
    u = np.unique(s)
    candidates = np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2, [u[-1] + 1.0]])
    acc = [np.mean((s >= t) == y) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


@dataclass(frozen=True)
class WicLayerResult:
    """Word-in-context result of one layer: threshold fitted on the training lemmas, and
    the 0/1 correctness of every test pair (for a bootstrap interval)."""

    layer: int
    threshold: float
    train_accuracy: float
    test_correct: np.ndarray

    @property
    def test_accuracy(self) -> float:
        """Share of test pairs classified correctly."""
        return float(np.mean(self.test_correct))


def wic_by_layer(
    vectors: np.ndarray, pairs: Sequence[WicPair], train_mask: np.ndarray
) -> list[WicLayerResult]:
    """Same-sense classification by cosine threshold, one result per layer.

    For each layer, the cosine of each pair's word vectors is the score; the threshold is
    fitted on the pairs where ``train_mask`` is true (lemmas never seen in the test) and the
    accuracy is measured on the others.
    """
    train = np.asarray(train_mask, dtype=bool)
    if train.shape != (len(pairs),):
        raise ValueError(f"train_mask has shape {train.shape}, expected ({len(pairs)},)")
    if train.all() or not train.any():
        raise ValueError("train_mask must leave pairs on both sides")
    labels = np.array([p.same_sense for p in pairs])
    cos = pair_cosines(vectors, pairs)
    results = []
    for layer, scores in enumerate(cos):
        t = fit_threshold(scores[train], labels[train])
        correct = (scores >= t) == labels
        results.append(
            WicLayerResult(
                layer=layer,
                threshold=t,
                train_accuracy=float(np.mean(correct[train])),
                test_correct=correct[~train].astype(np.float64),
            )
        )
    return results


def adjusted_rand_index(labels_true: Sequence[int], labels_pred: Sequence[int]) -> float:
    """Adjusted Rand index of two partitions (Hubert & Arabie, 1985).

    1 for identical partitions (up to renaming), 0 in expectation for a random partition
    with the same cluster sizes, negative when worse than that. Degenerate cases where the
    chance-corrected denominator is 0 (both partitions a single cluster, or both all
    singletons) count as 1, the convention of scikit-learn.
    """
    a = np.asarray(labels_true)
    b = np.asarray(labels_pred)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"labels must be 1-D of equal length, got {a.shape} and {b.shape}")
    n = a.size
    if n < 2:
        return 1.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)

    def pairs_of(x: np.ndarray) -> float:
        return float((x * (x - 1) // 2).sum())

    index = pairs_of(table)
    rows, cols = pairs_of(table.sum(1)), pairs_of(table.sum(0))
    expected = rows * cols / (n * (n - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def cluster_senses(vectors: np.ndarray, n_clusters: int, *, seed: int = 0) -> np.ndarray:
    """Average-linkage agglomerative clustering with cosine distance into ``n_clusters``.

    The points are shuffled (with ``seed``) before clustering so that exact distance ties are
    broken at random rather than by sentence order. Identical points (static vectors of one
    word) are all at distance 0 and end up in a single cluster, whose ARI against two or more
    senses is 0.

    Returns:
        Cluster ids ``[n_points]`` (integers from 1).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if x.ndim != 2 or n < 2:
        raise ValueError(f"vectors must be [n_points >= 2, dim], got shape {x.shape}")
    if not isinstance(n_clusters, int) or not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters={n_clusters!r} must be an integer in [1, {n}]")
    order = np.random.default_rng(seed).permutation(n)
    dist = np.clip(pdist(x[order], metric="cosine"), 0.0, None)
    tree = linkage(dist, method="average")
    shuffled = fcluster(tree, t=n_clusters, criterion="maxclust")
    labels = np.empty(n, dtype=np.int64)
    labels[order] = shuffled
    return labels


def sense_clustering_ari(
    vectors: np.ndarray, examples: Sequence[SenseExample], *, seed: int = 0
) -> np.ndarray:
    """Per lemma and layer: cluster the lemma's occurrences into as many groups as it has
    senses and score the clustering against the synsets with :func:`adjusted_rand_index`.

    Args:
        vectors: ``[n_examples, n_layers, hidden]`` (or ``[n_examples, hidden]``), row ``i``
            for ``examples[i]``.
        examples: the sentences; lemmas with fewer than two senses, or no more occurrences
            than senses, are skipped (clustering them is trivial).
        seed: tie-breaking seed passed to :func:`cluster_senses`.

    Returns:
        ``[n_layers, n_lemmas]`` ARI values (lemmas in sorted order).
    """
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim == 2:
        v = v[:, None, :]
    if v.ndim != 3 or len(v) != len(examples):
        raise ValueError(
            f"vectors must be [n_examples={len(examples)}, n_layers, hidden], got {v.shape}"
        )
    scores = []
    for _, idx in sorted(_group_by_lemma(examples).items()):
        senses = [examples[i].synset_offset for i in idx]
        k = len(set(senses))
        if k < 2 or len(idx) <= k:
            continue
        scores.append(
            [
                adjusted_rand_index(senses, cluster_senses(v[idx, layer], k, seed=seed))
                for layer in range(v.shape[1])
            ]
        )
    if not scores:
        raise ValueError("examples: no lemma has two senses and more occurrences than senses")
    return np.array(scores).T


# --------------------------------------------------------------------------------------------
# 4. The same tiny transformer trained causally and masked
# --------------------------------------------------------------------------------------------

Objective = str  # "causal" or "masked"
OBJECTIVES: tuple[str, ...] = ("causal", "masked")


class CharVocabLike(Protocol):
    """What the tiny-LM helpers need from ``support.chars.CharVocab``."""

    @property
    def vocab_size(self) -> int: ...

    @property
    def mask_id(self) -> int: ...

    @property
    def special_ids(self) -> tuple[int, ...]: ...


def masked_lm_batch(
    tokens: np.ndarray | torch.Tensor,
    batch_size: int,
    block_size: int,
    *,
    vocab: CharVocabLike,
    generator: torch.Generator,
    mask_prob: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A masked-LM batch ``(corrupted, labels)``, both ``[batch_size, block_size]``.

    Random windows of the token stream (uniform start positions, like the causal batch) go
    through :func:`bert_mask`; ``labels`` is the original id at chosen positions and
    :data:`IGNORE_INDEX` elsewhere, the target format ``TinyLM.forward`` expects.
    """
    from support.training import sample_windows

    windows = sample_windows(tokens, batch_size, block_size, generator=generator)
    b = bert_mask(
        windows,
        mask_token_id=vocab.mask_id,
        vocab_size=vocab.vocab_size,
        special_token_ids=vocab.special_ids,
        mask_prob=mask_prob,
        generator=generator,
    )
    return b.input_ids, b.labels


def tiny_lm_loss(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """The loss ``TinyLM`` computes for an ``(inputs, targets)`` batch (nats per target).

    Serves both objectives: causal targets are the inputs shifted by one; masked targets are
    :data:`IGNORE_INDEX` except at the chosen positions.
    """
    x, y = batch
    _, loss = model(x, y)
    return loss


def train_tiny_lm(
    objective: Objective,
    tokens: np.ndarray | torch.Tensor,
    vocab: CharVocabLike,
    *,
    d_model: int,
    n_layer: int,
    n_head: int,
    block_size: int,
    batch_size: int,
    steps: int,
    max_lr: float = 3e-3,
    mask_prob: float = 0.15,
    eval_fn: Callable[[nn.Module], float] | None = None,
    eval_every: int = 0,
    seed: int = 0,
) -> tuple[nn.Module, object]:
    """Train a ``support.tinylm.TinyLM`` with one objective; return ``(model, TrainResult)``.

    ``"causal"`` uses a left-to-right mask and next-token prediction; ``"masked"`` uses
    bidirectional attention and BERT masking. Everything else -- architecture, parameter
    count, initial weights (same ``seed``), windows per step, tokens read per step
    (``batch_size * block_size``), optimiser and schedule -- is identical, so two calls that
    differ only in ``objective`` spend the same compute.

    ``eval_fn(model) -> float`` is called every ``eval_every`` steps and at the end (see
    ``support.training.train``); the values land in ``TrainResult.evals``.
    """
    from support.tinylm import TinyLM, TinyLMConfig
    from support.training import causal_batch, train

    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} must be one of {OBJECTIVES}")
    causal = objective == "causal"
    config = TinyLMConfig(
        vocab_size=vocab.vocab_size,
        block_size=block_size,
        n_layer=n_layer,
        n_head=n_head,
        d_model=d_model,
        causal=causal,
    )
    model = TinyLM(config, seed=seed)

    def batch_fn(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if causal:
            return causal_batch(tokens, batch_size, block_size, generator=gen)
        return masked_lm_batch(
            tokens, batch_size, block_size, vocab=vocab, generator=gen, mask_prob=mask_prob
        )

    result = train(
        model,
        batch_fn,
        tiny_lm_loss,
        steps=steps,
        max_lr=max_lr,
        eval_fn=eval_fn,
        eval_every=eval_every,
        seed=seed,
    )
    model.eval()
    return model, result


def _check_windows(windows: torch.Tensor, position: int) -> None:
    if windows.dim() != 2:
        raise ValueError(f"windows must be [n, time], got shape {tuple(windows.shape)}")
    if not 0 <= position < windows.size(1):
        raise ValueError(f"position={position!r} must be in [0, {windows.size(1)})")


@torch.no_grad()
def masked_position_logprobs(
    model: nn.Module, windows: torch.Tensor, position: int, *, mask_id: int, batch_size: int = 256
) -> torch.Tensor:
    """Log-probabilities ``[n, vocab]`` of the token at ``position`` when it is replaced by the
    mask id and the model reads everything else in the window (both sides).

    Cut the windows to ``position + 1`` tokens to ask about the last token from the left
    context only.
    """
    _check_windows(windows, position)
    out = []
    for lo in range(0, len(windows), batch_size):
        x = windows[lo : lo + batch_size].clone()
        x[:, position] = mask_id
        logits, _ = model(x)
        out.append(F.log_softmax(logits[:, position].float(), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def next_token_logprobs(
    model: nn.Module, windows: torch.Tensor, position: int, *, batch_size: int = 256
) -> torch.Tensor:
    """Causal prediction ``log p(x_position | x_<position)`` as ``[n, vocab]``: the left side
    only, which is all a left-to-right model reads when it predicts a token (``position >= 1``).
    """
    _check_windows(windows, position)
    if position < 1:
        raise ValueError(f"position={position!r} must be >= 1: position 0 has no left context")
    out = []
    for lo in range(0, len(windows), batch_size):
        logits, _ = model(windows[lo : lo + batch_size, :position])
        out.append(F.log_softmax(logits[:, -1].float(), dim=-1))
    return torch.cat(out)


@torch.no_grad()
def rescored_logprobs(
    model: nn.Module,
    windows: torch.Tensor,
    position: int,
    candidate_ids: Sequence[int],
    *,
    batch_size: int = 512,
) -> torch.Tensor:
    """A causal model's posterior over the token at ``position`` given *both* sides, by Bayes.

    For each candidate ``c`` the window is rewritten with ``x_position = c`` and scored with
    the chain rule; the shared prefix cancels, so
    ``log p(c | rest) = log p(c | left) + sum_{t > position} log p(x_t | x_<t) - log Z``
    with ``Z`` summing over the candidates. Exact over ``candidate_ids`` (other ids get
    ``-inf``), and it costs one forward pass per candidate: ``len(candidate_ids)`` times the
    compute of one masked-LM prediction.

    Returns:
        ``[n, vocab]`` log-probabilities (natural log).
    """
    _check_windows(windows, position)
    if position < 1:
        raise ValueError(f"position={position!r} must be >= 1: position 0 has no left context")
    cands = torch.as_tensor(list(candidate_ids), dtype=torch.long)
    if cands.numel() == 0:
        raise ValueError("candidate_ids must not be empty")
    n, length = windows.shape
    k = len(cands)
    # Every (window, candidate) combination as one row of a big batch.
    rows = windows.repeat_interleave(k, dim=0).clone()
    rows[:, position] = cands.repeat(n)
    scores = torch.empty(n * k)
    for lo in range(0, len(rows), batch_size):
        x = rows[lo : lo + batch_size]
        logits, _ = model(x[:, :-1])
        logp = F.log_softmax(logits.float(), dim=-1)
        # log p(x_t | x_<t) for t = position..length-1 sits at logits index t - 1.
        targets = x[:, position:]
        picked = logp[:, position - 1 :].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        scores[lo : lo + len(x)] = picked.sum(dim=1)
    scores = scores.view(n, k)
    vocab = logits.size(-1)
    out = torch.full((n, vocab), float("-inf"))
    out[:, cands] = F.log_softmax(scores, dim=-1)
    return out


def prediction_scores(logprobs: torch.Tensor, targets: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-item negative log-likelihood of the true token (nats) and top-1 correctness (0/1).

    Args:
        logprobs: ``[n, vocab]`` natural-log probabilities.
        targets: ``[n]`` true ids.
    """
    if logprobs.dim() != 2 or targets.shape != (logprobs.size(0),):
        raise ValueError(
            f"logprobs must be [n, vocab] and targets [n], got {tuple(logprobs.shape)} "
            f"and {tuple(targets.shape)}"
        )
    nll = -logprobs.gather(1, targets.long().unsqueeze(1)).squeeze(1)
    correct = (logprobs.argmax(dim=1) == targets).float()
    return {"nll": nll.numpy().astype(np.float64), "correct": correct.numpy().astype(np.float64)}


def compare_objectives(
    causal_model: nn.Module,
    masked_model: nn.Module,
    windows: torch.Tensor,
    *,
    mask_id: int,
    candidate_ids: Sequence[int] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Score both tiny LMs on the same windows, in the settings that separate the objectives.

    With ``T`` the window length and ``m = T // 2`` the middle:

    * ``"middle, masked LM, both sides"``: blank at ``m``, the masked model reads both sides;
    * ``"middle, causal LM, left side"``: ``p(x_m | x_<m)``, what a causal model reads;
    * ``"middle, causal LM, both sides by rescoring"``: :func:`rescored_logprobs` over
      ``candidate_ids`` (only if given; it costs one forward pass per candidate);
    * ``"last, causal LM, left side"`` and ``"last, masked LM, left side"``: the last token
      of the window from the ``T - 1`` before it (the masked model gets a blank at the end).

    Returns:
        ``{setting: prediction_scores(...)}`` -- per-window ``nll`` (nats) and ``correct``.
    """
    if windows.dim() != 2 or windows.size(1) < 3:
        raise ValueError(f"windows must be [n, time >= 3], got shape {tuple(windows.shape)}")
    length = windows.size(1)
    mid, last = length // 2, length - 1
    y_mid, y_last = windows[:, mid], windows[:, last]
    out = {
        "middle, masked LM, both sides": prediction_scores(
            masked_position_logprobs(masked_model, windows, mid, mask_id=mask_id), y_mid
        ),
        "middle, causal LM, left side": prediction_scores(
            next_token_logprobs(causal_model, windows, mid), y_mid
        ),
    }
    if candidate_ids is not None:
        out["middle, causal LM, both sides by rescoring"] = prediction_scores(
            rescored_logprobs(causal_model, windows, mid, candidate_ids), y_mid
        )
    out["last, causal LM, left side"] = prediction_scores(
        next_token_logprobs(causal_model, windows, last), y_last
    )
    out["last, masked LM, left side"] = prediction_scores(
        masked_position_logprobs(masked_model, windows, last, mask_id=mask_id), y_last
    )
    return out


@torch.no_grad()
def masked_lm_generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    mask_id: int,
    suppress_ids: Sequence[int] = (),
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Make a masked LM write left to right: append the mask id, sample it, repeat.

    This is the only way to generate with a bidirectional model without extra machinery,
    and it asks the model something it rarely saw in training: a blank with *nothing* to
    its right. Returns ``[batch, time + max_new_tokens]`` ids.
    """
    if idx.dim() != 2:
        raise ValueError(f"idx must be [batch, time], got shape {tuple(idx.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be >= 0")
    if not temperature > 0:
        raise ValueError(f"temperature={temperature!r} must be > 0")
    block = model.config.block_size
    for _ in range(max_new_tokens):
        blank = torch.full((idx.size(0), 1), mask_id, dtype=idx.dtype)
        context = torch.cat([idx, blank], dim=1)[:, -block:]
        logits, _ = model(context)
        logits = logits[:, -1].float() / temperature
        if suppress_ids:
            logits[:, list(suppress_ids)] = float("-inf")
        nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
    return idx


# --------------------------------------------------------------------------------------------
# 5. A masked-LM head fitted on a frozen pretrained encoder
# --------------------------------------------------------------------------------------------


class TiedMLMHead(nn.Module):
    """BERT's masked-LM head with its output matrix tied to a (frozen) input-embedding table.

    ``logits = LayerNorm(gelu(W_h h + b_h)) @ E^T + b``: a dense layer and LayerNorm (as in
    BERT's ``BertLMPredictionHead``), then a dot product with every row of the encoder's input
    embedding table ``E`` plus one bias per token. ``E`` is *shared* with the encoder -- the
    same tensor, not a copy -- and never trained here: only the dense layer, the LayerNorm
    and the bias are parameters of this module.
    """

    def __init__(
        self, embeddings: nn.Embedding, *, layer_norm_eps: float = 1e-12, seed: int = 0
    ) -> None:
        super().__init__()
        vocab, hidden = embeddings.weight.shape
        gen = torch.Generator().manual_seed(seed)
        self.dense = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.dense.weight.copy_(torch.randn(hidden, hidden, generator=gen) * 0.02)
            self.dense.bias.zero_()
        self.norm = nn.LayerNorm(hidden, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(vocab))
        # Kept inside a tuple so that nn.Module does not register the encoder's embedding as a
        # parameter of the head: the optimiser never sees it, state_dict does not duplicate it,
        # and the head always reads the very tensor the encoder reads.
        self._embeddings = (embeddings,)

    @property
    def tied_weight(self) -> torch.Tensor:
        """The encoder's input-embedding matrix ``[vocab, hidden]`` (shared, not copied)."""
        return self._embeddings[0].weight

    def transform(self, hidden: torch.Tensor) -> torch.Tensor:
        """``LayerNorm(gelu(dense(hidden)))``: ``[..., hidden]`` -> ``[..., hidden]``."""
        return self.norm(F.gelu(self.dense(hidden)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits ``[..., vocab]`` from encoder hidden states ``[..., hidden]``."""
        return F.linear(self.transform(hidden), self.tied_weight.detach(), self.bias)


class FrozenEncoderMLM(nn.Module):
    """A pretrained encoder (frozen) plus a :class:`TiedMLMHead`: ``forward`` gives logits
    ``[batch, time, vocab]`` for ``input_ids``/``attention_mask``, like a masked-LM model."""

    def __init__(self, encoder: EncoderLike, head: TiedMLMHead) -> None:
        super().__init__()
        self.encoder_model = encoder.model
        self.head = head

    def hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last-layer hidden states ``[batch, time, hidden]``, computed without gradients."""
        with torch.no_grad():
            return self.encoder_model(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.head(self.hidden(input_ids, attention_mask))


def _tokenize_texts(tokenizer: object, texts: Sequence[str], max_length: int) -> list[list[int]]:
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    return [ids for ids in enc["input_ids"] if len(ids) > 2]


def _pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        attn[i, : len(r)] = 1
    return ids, attn


@torch.no_grad()
def masked_features(
    encoder: EncoderLike,
    texts: Sequence[str],
    *,
    max_length: int = 48,
    mask_prob: float = 0.15,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One BERT-masked pass of the frozen encoder over ``texts``.

    Returns ``(hidden, labels)``: the last-layer hidden states ``[n_chosen, hidden]`` at the
    chosen positions and the original ids ``[n_chosen]`` there. Because the encoder is frozen,
    these features can be computed once and reused for every step of fitting a head.
    """
    tok = encoder.tokenizer
    rows = _tokenize_texts(tok, texts, max_length)
    feats, labels = [], []
    for lo in range(0, len(rows), batch_size):
        ids, attn = _pad(rows[lo : lo + batch_size], tok.pad_token_id)
        b = bert_mask(
            ids,
            mask_token_id=tok.mask_token_id,
            vocab_size=len(tok),
            special_token_ids=tuple(tok.all_special_ids),
            mask_prob=mask_prob,
            generator=generator,
        )
        hidden = encoder.model(input_ids=b.input_ids, attention_mask=attn).last_hidden_state
        feats.append(hidden[b.chosen].float())
        labels.append(b.labels[b.chosen])
    if not feats or sum(len(f) for f in feats) == 0:
        raise ValueError("texts: nothing was masked; give more or longer texts")
    return torch.cat(feats), torch.cat(labels)


def fit_mlm_head(
    encoder: EncoderLike,
    texts: Sequence[str],
    *,
    steps: int = 200,
    batch_size: int = 256,
    max_length: int = 48,
    lr: float = 3e-3,
    mask_prob: float = 0.15,
    seed: int = 0,
) -> tuple[FrozenEncoderMLM, dict[str, list[float]]]:
    """Fit a :class:`TiedMLMHead` on a frozen encoder with BERT's masking; return the wrapped
    model and the per-step training loss (nats per masked token).

    The texts are masked once with :func:`bert_mask` (special tokens and padding are never
    chosen) and run through the frozen encoder once (:func:`masked_features`); the head is
    then trained with AdamW and cosine decay on minibatches of ``batch_size`` chosen positions
    drawn from those cached features. The output bias starts at the log unigram frequencies of
    the training texts (add-one smoothed), so the untrained head already predicts common
    tokens and the steps go to using the context. The encoder's weights are never changed.

    Args:
        encoder: e.g. ``support.models.load_encoder()``.
        texts: training sentences (held-out ones are for :func:`masked_token_accuracy`).
        steps: optimiser steps (>= 1).
        batch_size: masked positions per step (>= 1).
        max_length: tokens per text after truncation (>= 8).
        lr: peak learning rate (> 0).
        mask_prob: BERT's selection probability.
        seed: seeds the head's initialisation, the masking and the minibatches.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps={steps!r} must be an integer >= 1")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 1")
    if not isinstance(max_length, int) or max_length < 8:
        raise ValueError(f"max_length={max_length!r} must be an integer >= 8")
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be > 0")
    tok = encoder.tokenizer
    rows = _tokenize_texts(tok, texts, max_length)
    if not rows:
        raise ValueError("texts: no text has a token besides [CLS] and [SEP]")
    gen = torch.Generator().manual_seed(seed)
    features, labels = masked_features(
        encoder, texts, max_length=max_length, mask_prob=mask_prob, generator=gen
    )
    head = TiedMLMHead(encoder.model.get_input_embeddings(), seed=seed)
    counts = torch.bincount(torch.tensor([i for r in rows for i in r]), minlength=len(tok))
    with torch.no_grad():
        head.bias.copy_(torch.log((counts[: head.bias.numel()] + 1.0) / (counts.sum() + len(tok))))
    optimiser = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    history: dict[str, list[float]] = {"step": [], "loss": []}
    head.train()
    for step in range(steps):
        pick = torch.randint(len(labels), (min(batch_size, len(labels)),), generator=gen)
        loss = F.cross_entropy(head(features[pick]), labels[pick])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        history["step"].append(step)
        history["loss"].append(loss.item())
    head.eval()
    return FrozenEncoderMLM(encoder, head), history


@torch.no_grad()
def masked_token_accuracy(
    mlm: Callable[..., torch.Tensor],
    tokenizer: object,
    texts: Sequence[str],
    *,
    max_length: int = 48,
    mask_prob: float = 0.15,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Score a masked LM on held-out texts: mask chosen positions (all of them with the mask
    token, no random or kept tokens) and predict the originals.

    Args:
        mlm: callable ``mlm(input_ids=..., attention_mask=...)`` returning logits
            ``[batch, time, vocab]`` (a :class:`FrozenEncoderMLM`, or a wrapped hub model).

    Returns:
        Per masked token: ``"nll"`` (nats), ``"top1"`` and ``"top5"`` (0/1), and
        ``"target"`` (the true ids, for baselines such as "always the most frequent token").
    """
    rows = _tokenize_texts(tokenizer, texts, max_length)
    gen = torch.Generator().manual_seed(seed)
    nll, top1, top5, target = [], [], [], []
    for lo in range(0, len(rows), batch_size):
        ids, attn = _pad(rows[lo : lo + batch_size], tokenizer.pad_token_id)
        b = bert_mask(
            ids,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=len(tokenizer),
            special_token_ids=tuple(tokenizer.all_special_ids),
            mask_prob=mask_prob,
            mask_fraction=1.0,
            random_fraction=0.0,
            generator=gen,
        )
        if not bool(b.chosen.any()):
            continue
        logits = mlm(input_ids=b.input_ids, attention_mask=attn)[b.chosen].float()
        y = b.labels[b.chosen]
        logp = F.log_softmax(logits, dim=-1)
        nll.append(-logp.gather(1, y[:, None]).squeeze(1))
        best5 = logp.topk(5, dim=-1).indices
        top1.append((best5[:, 0] == y).float())
        top5.append((best5 == y[:, None]).any(dim=1).float())
        target.append(y)
    if not nll:
        raise ValueError("texts: nothing was masked; give more or longer texts")
    return {
        "nll": torch.cat(nll).numpy().astype(np.float64),
        "top1": torch.cat(top1).numpy().astype(np.float64),
        "top5": torch.cat(top5).numpy().astype(np.float64),
        "target": torch.cat(target).numpy(),
    }


@torch.no_grad()
def fill_mask(
    mlm: Callable[..., torch.Tensor], tokenizer: object, text: str, *, top_k: int = 5
) -> list[tuple[str, float]]:
    """The ``top_k`` fillers of the first mask token in ``text`` with their probabilities.

    ``text`` contains the tokenizer's mask token (``[MASK]`` for BERT tokenizers).

    Example:
        ``fill_mask(mlm, tok, "the [MASK] of the river was muddy")`` might give
        ``[("bank", 0.41), ("water", 0.12), ...]``.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k={top_k!r} must be an integer >= 1")
    mask_token = tokenizer.mask_token
    if mask_token not in text:
        raise ValueError(f"text={text!r} must contain the mask token {mask_token!r}")
    enc = tokenizer(text, return_tensors="pt")
    where = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0, 0]
    logits = mlm(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    probs = F.softmax(logits[0, where].float(), dim=-1)
    best = probs.topk(top_k)
    tokens = tokenizer.convert_ids_to_tokens(best.indices.tolist())
    return [(t, float(p)) for t, p in zip(tokens, best.values.tolist(), strict=True)]


def load_hub_masked_lm(
    hub_id: str = "bert-base-uncased",
) -> tuple[Callable[..., torch.Tensor], object]:
    """A real pretrained masked LM from the Hugging Face hub (needs internet; for Colab).

    Returns ``(mlm, tokenizer)`` where ``mlm(input_ids=..., attention_mask=...)`` gives logits
    ``[batch, time, vocab]``, the interface of :class:`FrozenEncoderMLM`. Only safetensors
    weights are loaded.
    """
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(hub_id, use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(hub_id)

    def mlm(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return model(input_ids=input_ids, attention_mask=attention_mask).logits

    return mlm, tokenizer
