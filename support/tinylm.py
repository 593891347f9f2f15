"""One tiny transformer in one file: a GPT-style decoder with a switchable attention mask.

The architecture follows GPT-2 (Radford et al., 2019) as nanoGPT writes it: token and learned
position embeddings, ``n_layer`` pre-LayerNorm blocks of multi-head self-attention plus a
4x-wide GELU MLP, a final LayerNorm, and an output layer that shares its weights with the token
embedding. One config switch, ``causal``, chooses the attention mask:

* ``causal=True``: position t sees positions 0..t (a left-to-right language model, trained
  with next-token prediction);
* ``causal=False``: every position sees every position (a bidirectional encoder, trained e.g.
  with masked-token prediction as in BERT).

Everything else, including the parameter count, is identical, which is what lets the
masked-LM chapter compare the two objectives on the same network.

Example::

    >>> cfg = TinyLMConfig(vocab_size=64, block_size=32, n_layer=2, n_head=2, d_model=32)
    >>> model = TinyLM(cfg)
    >>> logits, loss = model(torch.zeros(4, 32, dtype=torch.long))
    >>> logits.shape
    torch.Size([4, 32, 64])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TinyLM", "TinyLMConfig", "attention_mask"]


@dataclass(frozen=True)
class TinyLMConfig:
    """Shape of a :class:`TinyLM`.

    Attributes:
        vocab_size: number of token ids (rows of the embedding table).
        block_size: maximum sequence length (context) in tokens.
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide ``d_model``.
        d_model: width of the residual stream.
        causal: True for a left-to-right mask, False for bidirectional attention.
        dropout: dropout probability in [0, 1) on attention weights and residual branches.
        bias: whether linear layers and LayerNorms have bias terms.
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    d_model: int
    causal: bool = True
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"n_head must divide d_model, got d_model={self.d_model}, n_head={self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        """The config as a plain dict (for tables and saving)."""
        return asdict(self)


def attention_mask(block_size: int, causal: bool) -> torch.Tensor:
    """Which positions may attend to which: a ``(block_size, block_size)`` bool tensor.

    Entry ``[i, j]`` is True when query position ``i`` may read key position ``j``: the lower
    triangle (diagonal included) for a causal model, everything for a bidirectional one.
    """
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    full = torch.ones(block_size, block_size, dtype=torch.bool)
    return torch.tril(full) if causal else full


class SelfAttention(nn.Module):
    """Multi-head self-attention with the config's mask (causal or bidirectional)."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.causal = config.causal
        self.dropout = config.dropout
        # One matrix produces queries, keys and values for all heads at once.
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, head_dim): each head attends in its own subspace.
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        drop = self.dropout if self.training else 0.0
        if key_mask is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=self.causal)
        else:
            allowed = attention_mask(T, self.causal).to(x.device)[None, None]
            allowed = allowed & key_mask[:, None, None, :]
            # Every query keeps itself so that no row is all-False (that would give NaN);
            # outputs at padded positions are meaningless and must be ignored by the loss.
            allowed = allowed | torch.eye(T, dtype=torch.bool, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network, 4x wider than the residual stream."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model, bias=config.bias)
        self.down = nn.Linear(4 * config.d_model, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model, bias=config.bias)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), key_mask)
        return x + self.mlp(self.ln_2(x))


class TinyLM(nn.Module):
    """A GPT-2-style transformer over ``config.vocab_size`` tokens (causal or bidirectional).

    ``forward(idx, targets)`` returns per-position logits over the vocabulary and, when targets
    are given, the mean cross-entropy in nats per predicted token; positions whose target is
    ``-100`` are ignored (the convention masked-LM training uses for unmasked positions).
    """

    def __init__(self, config: TinyLMConfig, *, seed: int | None = 0) -> None:
        super().__init__()
        self.config = config
        # torch's default layer initialisers draw from the global RNG; fork it so that building
        # a model leaves the caller's random state alone (reset_parameters redraws everything).
        with torch.random.fork_rng(devices=[]):
            self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
            self.pos_emb = nn.Embedding(config.block_size, config.d_model)
            self.drop = nn.Dropout(config.dropout)
            self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
            self.ln_f = nn.LayerNorm(config.d_model, bias=config.bias)
            self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        # Weight tying (Press & Wolf, 2017): the output layer reuses the input embedding.
        self.lm_head.weight = self.tok_emb.weight
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int | None = 0) -> None:
        """Initialise weights as GPT-2 does, reproducibly when ``seed`` is an int.

        ``seed=None`` draws from the global torch RNG instead.

        Weights ~ N(0, 0.02^2); the projections that write into the residual stream get
        std 0.02 / sqrt(2 * n_layer) so the stream's variance does not grow with depth.
        """
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        resid_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = resid_std if name.endswith(("attn.proj.weight", "mlp.down.weight")) else 0.02
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=gen) * std)
            elif name.endswith("weight"):  # LayerNorm gains
                nn.init.ones_(p)
            else:  # biases
                nn.init.zeros_(p)

    def num_params(self, non_embedding: bool = True) -> int:
        """Number of trainable parameters.

        With ``non_embedding=True`` (Kaplan et al.'s N) the token and position embeddings are
        left out; the output layer is tied to the token embedding, so it is left out too.
        """
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return n

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        key_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position, and the loss if ``targets`` is given.

        Args:
            idx: ``(B, T)`` token ids, ``T <= block_size``.
            targets: ``(B, T)`` ids to predict at each position, ``-100`` to skip a position.
                For a causal LM this is ``idx`` shifted left by one; for a masked LM it is the
                original id at masked positions and ``-100`` elsewhere.
            key_mask: optional ``(B, T)`` bool, False at padding that no position may attend to.

        Returns:
            ``(logits, loss)``: logits ``(B, T, vocab_size)``; loss is the mean cross-entropy
            in nats over non-ignored positions, or None without targets.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"sequence length must be <= block_size={self.config.block_size}, got {T}"
            )
        if key_mask is not None and key_mask.shape != idx.shape:
            raise ValueError(
                f"key_mask must have shape {tuple(idx.shape)}, got {tuple(key_mask.shape)}"
            )
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x, key_mask)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(
                    f"targets must have shape {tuple(idx.shape)}, got {tuple(targets.shape)}"
                )
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100
            )
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        suppress_ids: Sequence[int] = (),
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Continue ``idx`` (``(B, T)`` ids) by sampling ``max_new_tokens`` tokens (causal only).

        Args:
            temperature: > 0; divides the logits (0 < t < 1 sharpens, t > 1 flattens).
            top_k: if given (>= 1), sample only among the k most likely tokens.
            suppress_ids: token ids never to emit (e.g. ``[PAD]``, ``[MASK]``).
            generator: a seeded ``torch.Generator`` for reproducible samples.

        Returns ``(B, T + max_new_tokens)`` ids; the context is cropped to ``block_size``.
        """
        if not self.config.causal:
            raise ValueError("generate needs a causal model (config.causal=True)")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k <= self.config.vocab_size:
            raise ValueError(f"top_k must be in [1, {self.config.vocab_size}], got {top_k}")
        was_training = self.training
        self.eval()
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size :]
            logits, _ = self(context)
            logits = logits[:, -1, :] / temperature
            if suppress_ids:
                logits[:, list(suppress_ids)] = float("-inf")
            if top_k is not None:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        self.train(was_training)
        return idx
