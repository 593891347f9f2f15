"""Training small language models: data splits, batches, a learning-rate schedule, one train
loop for any objective, and the compute accounting that scaling laws are written in.

The loop is objective-agnostic: it takes ``batch_fn`` (makes a batch from a random generator)
and ``loss_fn`` (model, batch -> scalar loss). :func:`causal_batch` with :func:`causal_lm_loss`
gives next-token prediction; the masked-LM chapter passes its own masking batch and loss.

Compute follows Kaplan et al. (2020, "Scaling Laws for Neural Language Models", Table 1): a
forward pass costs about ``2N`` floating-point operations per token for ``N`` non-embedding
parameters, the backward pass twice that, so training on ``D`` tokens costs ``C ~= 6ND`` FLOPs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from support.tinylm import TinyLMConfig

__all__ = [
    "TrainResult",
    "bits_per_character",
    "causal_batch",
    "causal_lm_loss",
    "evaluate_causal_loss",
    "eval_windows",
    "flops_per_token",
    "lr_schedule",
    "matmul_flops_per_second",
    "sample_windows",
    "split_lines",
    "train",
    "training_flops",
]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def split_lines(text: str, *, val_fraction: float = 0.1, seed: int = 0) -> tuple[str, str]:
    """Split ``text`` into a training and a validation text by whole lines.

    Each line goes to validation with probability ``val_fraction`` (seeded), so both splits
    sample the whole corpus (a tail split of WordNet would hold out only adverbs). Lines keep
    their trailing newline, so the two texts are ordinary running text.

    Returns ``(train_text, val_text)``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        raise ValueError(f"text must have at least 2 lines to split, got {len(lines)}")
    to_val = np.random.default_rng(seed).random(len(lines)) < val_fraction
    train = "".join(line for line, v in zip(lines, to_val, strict=True) if not v)
    val = "".join(line for line, v in zip(lines, to_val, strict=True) if v)
    return train, val


def _as_long_tensor(tokens: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(tokens)
    if t.dim() != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tuple(t.shape)}")
    return t.long()


def sample_windows(
    tokens: np.ndarray | torch.Tensor,
    batch_size: int,
    length: int,
    *,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``batch_size`` random contiguous windows of ``length`` tokens: a ``(B, length)`` tensor.

    Start positions are uniform over the token stream (drawn with ``generator``).
    """
    t = _as_long_tensor(tokens)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not 1 <= length <= len(t):
        raise ValueError(f"length must be in [1, {len(t)}] (the token count), got {length}")
    starts = torch.randint(0, len(t) - length + 1, (batch_size,), generator=generator)
    rows = starts[:, None] + torch.arange(length)[None, :]
    return t[rows].to(device)


def causal_batch(
    tokens: np.ndarray | torch.Tensor,
    batch_size: int,
    block_size: int,
    *,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """A next-token batch ``(x, y)``: ``y`` is ``x`` shifted left by one; both ``(B, T)``."""
    w = sample_windows(tokens, batch_size, block_size + 1, generator=generator, device=device)
    return w[:, :-1], w[:, 1:]


def eval_windows(tokens: np.ndarray | torch.Tensor, length: int, n_windows: int) -> torch.Tensor:
    """``n_windows`` evenly spaced, deterministic windows of ``length`` tokens, ``(n, length)``.

    Every model in a sweep is scored on exactly the same validation windows.
    """
    t = _as_long_tensor(tokens)
    if not 1 <= length <= len(t):
        raise ValueError(f"length must be in [1, {len(t)}] (the token count), got {length}")
    if n_windows < 1:
        raise ValueError(f"n_windows must be >= 1, got {n_windows}")
    starts = torch.linspace(0, len(t) - length, n_windows).long()
    return t[starts[:, None] + torch.arange(length)[None, :]]


def causal_lm_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy (nats per token) of ``model`` on a ``(x, y)`` batch."""
    x, y = batch
    _, loss = model(x, y)
    return loss


@torch.no_grad()
def evaluate_causal_loss(model: nn.Module, windows: torch.Tensor, *, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy in nats per token over ``windows`` (``(n, T + 1)`` ids).

    Each window gives ``T`` predictions (token ``t + 1`` from tokens ``0..t``); every prediction
    is weighted equally. The model is put in eval mode and restored afterwards.
    """
    if windows.dim() != 2 or windows.size(1) < 2:
        raise ValueError(
            f"windows must have shape (n, T + 1) with T >= 1, got {tuple(windows.shape)}"
        )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        w = windows[i : i + batch_size].to(device)
        _, loss = model(w[:, :-1], w[:, 1:])
        total += loss.item() * w[:, 1:].numel()
        count += w[:, 1:].numel()
    model.train(was_training)
    return total / count


def bits_per_character(loss_nats: float | np.ndarray, chars_per_token: float = 1.0) -> Any:
    """Convert a cross-entropy in nats per token to bits per character.

    ``bits/char = loss / ln 2 / chars_per_token``; for character tokens ``chars_per_token = 1``.
    A float gives a float, an array an array.
    """
    if not chars_per_token > 0:
        raise ValueError(f"chars_per_token must be > 0, got {chars_per_token}")
    bits = np.asarray(loss_nats, dtype=float) / math.log(2) / chars_per_token
    return float(bits) if bits.ndim == 0 else bits


# ---------------------------------------------------------------------------------------------
# Schedule and loop
# ---------------------------------------------------------------------------------------------
def lr_schedule(
    step: int, *, max_lr: float, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.1
) -> float:
    """Learning rate at ``step`` (0-based): linear warmup, then cosine decay to a floor.

    Steps ``0..warmup_steps-1`` ramp linearly from ``max_lr / warmup_steps`` to ``max_lr``; then
    the rate follows half a cosine from ``max_lr`` down to ``min_lr_ratio * max_lr`` at
    ``step = total_steps``. Chinchilla (Hoffmann et al., 2022) found that decaying over the run's
    actual length, rather than a longer horizon, matters for compute-optimal fits.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, {total_steps}], got {warmup_steps}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
    if not max_lr > 0:
        raise ValueError(f"max_lr must be > 0, got {max_lr}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if total_steps == warmup_steps:
        return max_lr
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    min_lr = min_lr_ratio * max_lr
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainResult:
    """What one training run did.

    Attributes:
        steps: optimizer steps taken.
        tokens: input tokens processed (batch x sequence length, summed over steps).
        train_seconds: wall time of the optimisation steps only (evaluation excluded), seconds.
        tokens_per_second: ``tokens / train_seconds``.
        history: per-step ``step``, ``lr`` and training ``loss`` (nats per predicted token).
        evals: ``(step, value)`` pairs from ``eval_fn`` (including after the last step).
    """

    steps: int
    tokens: int
    train_seconds: float
    tokens_per_second: float
    history: dict[str, list[float]] = field(default_factory=dict)
    evals: list[tuple[int, float]] = field(default_factory=list)

    @property
    def final_eval(self) -> float | None:
        """The last ``eval_fn`` value, or None if there was no ``eval_fn``."""
        return self.evals[-1][1] if self.evals else None


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # Decay matrices only; biases and LayerNorm gains are left alone, as in GPT-2 practice.
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def train(
    model: nn.Module,
    batch_fn: Callable[[torch.Generator], Sequence[torch.Tensor]],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor] = causal_lm_loss,
    *,
    steps: int,
    max_lr: float = 3e-3,
    warmup_steps: int | None = None,
    min_lr_ratio: float = 0.1,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    grad_clip: float | None = 1.0,
    eval_fn: Callable[[nn.Module], float] | None = None,
    eval_every: int = 0,
    seed: int = 0,
) -> TrainResult:
    """Train ``model`` in place with AdamW and :func:`lr_schedule`; return a :class:`TrainResult`.

    Args:
        batch_fn: ``batch_fn(generator)`` returns a batch (a tuple whose first element is the
            ``(B, T)`` input ids, used to count tokens), already on the model's device.
        loss_fn: ``loss_fn(model, batch)`` returns the scalar loss to minimise.
        steps: number of optimizer steps (>= 1).
        max_lr: peak learning rate; ``warmup_steps`` defaults to 10% of ``steps``.
        min_lr_ratio: final learning rate as a fraction of ``max_lr``.
        weight_decay: AdamW decoupled weight decay on weight matrices.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        eval_fn: optional ``eval_fn(model) -> float`` (e.g. validation loss), called every
            ``eval_every`` steps (0: only at the end) and after the last step.
        seed: seeds the batch generator and dropout (global RNG state is restored afterwards).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if eval_every < 0:
        raise ValueError(f"eval_every must be >= 0, got {eval_every}")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, got {grad_clip}")
    if warmup_steps is None:
        warmup_steps = max(1, steps // 10)
    optimizer = torch.optim.AdamW(_param_groups(model, weight_decay), lr=max_lr, betas=betas)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"step": [], "lr": [], "loss": []}
    evals: list[tuple[int, float]] = []
    tokens, train_seconds = 0, 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        for step in range(steps):
            lr = lr_schedule(
                step,
                max_lr=max_lr,
                total_steps=steps,
                warmup_steps=warmup_steps,
                min_lr_ratio=min_lr_ratio,
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            t0 = time.perf_counter()
            batch = batch_fn(generator)
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            loss_value = loss.item()  # synchronises a GPU, so the timing is honest
            train_seconds += time.perf_counter() - t0
            tokens += batch[0].numel()
            history["step"].append(step)
            history["lr"].append(lr)
            history["loss"].append(loss_value)
            last = step == steps - 1
            if eval_fn is not None and (last or (eval_every and (step + 1) % eval_every == 0)):
                evals.append((step + 1, float(eval_fn(model))))
                model.train()
    return TrainResult(
        steps=steps,
        tokens=tokens,
        train_seconds=train_seconds,
        tokens_per_second=tokens / train_seconds if train_seconds > 0 else float("nan"),
        history=history,
        evals=evals,
    )


# ---------------------------------------------------------------------------------------------
# Compute accounting
# ---------------------------------------------------------------------------------------------
def training_flops(n_params: float | np.ndarray, n_tokens: float | np.ndarray) -> Any:
    """Training compute ``C = 6 N D`` in FLOPs (Kaplan et al., 2020).

    Args:
        n_params: non-embedding parameters N (> 0).
        n_tokens: training tokens D (> 0).
    """
    n, d = np.asarray(n_params, dtype=float), np.asarray(n_tokens, dtype=float)
    if np.any(n <= 0) or np.any(d <= 0):
        raise ValueError(f"n_params and n_tokens must be > 0, got {n_params} and {n_tokens}")
    c = 6.0 * n * d
    return float(c) if c.ndim == 0 else c


def flops_per_token(
    config: TinyLMConfig,
    *,
    training: bool = True,
    attention: bool = True,
    embedding: bool = True,
) -> float:
    """FLOPs to process one token with a :class:`~support.tinylm.TinyLM`, counted per matmul.

    Forward, per token (Kaplan et al., 2020, Table 1, one multiply-add = 2 FLOPs):
    ``2 * N_matmul`` for the weight matrices of the blocks (``12 * n_layer * d_model^2``),
    ``2 * n_layer * n_ctx * d_model`` for attention scores and weighted values (``attention``),
    and ``2 * d_model * vocab_size`` for the output layer (``embedding``). Training triples it
    (the backward pass costs two forwards). With ``attention=embedding=False`` this reduces to
    ``6 * 12 * n_layer * d_model^2``, the ``6N`` rule without biases and LayerNorms.
    """
    d, layers = config.d_model, config.n_layer
    forward = 2.0 * 12 * layers * d * d
    if attention:
        forward += 2.0 * layers * config.block_size * d
    if embedding:
        forward += 2.0 * d * config.vocab_size
    return 3.0 * forward if training else forward


def matmul_flops_per_second(
    size: int = 512, *, repeats: int = 20, device: str | torch.device = "cpu"
) -> float:
    """Measured FLOP/s of a dense fp32 ``size x size`` matrix product (2 * size^3 FLOPs each).

    A practical ceiling for this machine with the current torch thread count; a small model's
    training achieves a fraction of it (launch overhead, element-wise ops, small matrices).
    """
    if size < 1 or repeats < 1:
        raise ValueError(f"size and repeats must be >= 1, got {size} and {repeats}")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device)
    b = torch.randn(size, size, generator=gen).to(device)
    (a @ b).sum().item()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        (a @ b).sum().item()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size**3 / best
