"""How well a language model predicts text: next-token distributions, surprisal, perplexity.

The cross-entropy of a model on a text is the average surprisal of the tokens that actually came,
``-1/T sum_t log p(x_t | x_<t)``. In nats with the natural log, in bits with log base 2; its
exponential is the perplexity. Scaling laws predict exactly this quantity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from support.models import CausalLM

LN2 = math.log(2.0)


@dataclass(frozen=True)
class NextToken:
    """The model's distribution over the next token after a prompt (sorted, most likely first)."""

    token_ids: np.ndarray  # shape (k,)
    tokens: list[str]  # decoded, one string per id
    probabilities: np.ndarray  # shape (k,), in [0, 1]
    entropy_nats: float  # of the full distribution, not only the k shown


@dataclass(frozen=True)
class Surprisal:
    """Per-token surprisal of a text under a model (the first token has no prediction)."""

    tokens: list[str]  # the predicted tokens x_1 .. x_T, decoded one by one
    nats: np.ndarray  # -log p(x_t | x_<t), shape (T,)
    n_characters: int  # characters of the text those tokens cover

    @property
    def mean_nats(self) -> float:
        """Cross-entropy in nats per token."""
        return float(self.nats.mean())

    @property
    def mean_bits(self) -> float:
        """Cross-entropy in bits per token."""
        return nats_to_bits(self.mean_nats)

    @property
    def perplexity(self) -> float:
        """``exp`` of the cross-entropy in nats: the effective number of equally likely choices."""
        return perplexity(self.mean_nats)

    @property
    def bits_per_character(self) -> float:
        """Total bits over the characters covered: comparable across tokenizers."""
        return float(self.nats.sum()) / LN2 / self.n_characters


def nats_to_bits(nats: float) -> float:
    """Convert an information quantity from nats to bits (divide by ln 2)."""
    return nats / LN2


def perplexity(mean_nats: float) -> float:
    """Perplexity from a cross-entropy in nats per token; ``ValueError`` for a negative one."""
    if not mean_nats >= 0.0:
        raise ValueError(f"mean_nats must be a cross-entropy >= 0, got {mean_nats}")
    return math.exp(mean_nats)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


@torch.no_grad()
def next_token_distribution(lm: CausalLM, prompt: str, k: int = 10) -> NextToken:
    """The ``k`` most likely next tokens after ``prompt`` and the distribution's entropy."""
    _check_k(k)
    if not prompt:
        raise ValueError("prompt must be a non-empty string")
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    logits = lm.model(input_ids=ids).logits[0, -1].double()
    if lm.suppress_token_ids:
        logits[list(lm.suppress_token_ids)] = -math.inf
    log_probs = torch.log_softmax(logits, dim=-1)
    probs = log_probs.exp()
    # 0 * log 0 is 0 by convention; masking avoids the NaN from 0 * -inf.
    entropy = -(probs * torch.where(probs > 0, log_probs, 0.0)).sum().item()
    top = torch.topk(probs, k=min(k, probs.numel()))
    ids_top = top.indices.numpy()
    return NextToken(
        token_ids=ids_top,
        tokens=[lm.tokenizer.decode([int(i)]) for i in ids_top],
        probabilities=top.values.numpy(),
        entropy_nats=float(entropy),
    )


@torch.no_grad()
def surprisal(lm: CausalLM, text: str, *, max_tokens: int = 1024) -> Surprisal:
    """Surprisal in nats of every token of ``text`` given the tokens before it.

    The text is tokenised without special tokens; the first token is the context for the
    rest, so ``T = len(tokens) - 1`` surprisals come back. ``max_tokens`` bounds the window.
    """
    if max_tokens < 2:
        raise ValueError(f"max_tokens must be >= 2, got {max_tokens}")
    ids = lm.tokenizer(text, add_special_tokens=False).input_ids[:max_tokens]
    if len(ids) < 2:
        raise ValueError(f"text must hold at least 2 tokens, got {len(ids)}")
    input_ids = torch.tensor([ids])
    log_probs = torch.log_softmax(lm.model(input_ids=input_ids).logits[0, :-1].double(), dim=-1)
    targets = input_ids[0, 1:]
    nats = -log_probs.gather(1, targets[:, None])[:, 0]
    tokens = [lm.tokenizer.decode([int(t)]) for t in targets]
    return Surprisal(tokens=tokens, nats=nats.numpy(), n_characters=len("".join(tokens)))
