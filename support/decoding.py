"""Decoding strategies written from scratch: logit transforms, a KV-cached sampler, and metrics.

The transforms are pure functions over a logits tensor whose last dimension is the vocabulary
(shape ``(V,)`` for one distribution or ``(..., V)`` for a batch). Each returns *new* logits in
which removed tokens are set to ``-inf``; none mutates its input. They compose in the order the
literature (and transformers) uses::

    logits -> apply_temperature -> top_k_filter -> top_p_filter -> softmax -> sample

Temperature rescales the logits; top-k and top-p only remove tokens, and the softmax that follows
renormalises the survivors (a truncated, renormalised distribution).

Tie handling (documented because both filters draw a line through a sorted list):

* ``top_k_filter`` keeps every token whose logit is >= the k-th largest logit, so tokens tied
  with the k-th one all survive and more than ``k`` tokens can be kept (as in transformers'
  ``TopKLogitsWarper``).
* ``nucleus_mask`` / ``top_p_filter`` find the probability ``q`` of the token that makes the
  running mass reach ``p`` (in descending order) and keep every token with probability >= ``q``.
  Tokens tied with that crossing token are therefore all kept, so the result does not depend on
  how the sort orders equal values; without ties this is exactly the smallest set with mass
  >= ``p``.
* ``greedy_token`` returns the lowest token id among tied maxima (``torch.argmax``).

References: nucleus sampling, Holtzman et al. 2020, "The Curious Case of Neural Text
Degeneration"; distinct-n, Li et al. 2016; self-BLEU, Zhu et al. 2018 (Texygen); BLEU,
Papineni et al. 2002; sequence repetition, Welleck et al. 2020.
"""

from __future__ import annotations

import math
import numbers
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # the models module is only needed for type hints
    from support.models import CausalLM

__all__ = [
    "Generation",
    "DecodingSetting",
    "SettingScores",
    "Throughput",
    "apply_temperature",
    "decoding_sweep",
    "distinct_n",
    "distribution_slider",
    "entropy_figure",
    "entropy_nats",
    "generate",
    "generate_batch",
    "generate_samples",
    "greedy_token",
    "measure_throughput",
    "next_token_logits",
    "ngrams",
    "nucleus_mask",
    "repetition_rate",
    "sample_token",
    "self_bleu",
    "sentence_bleu",
    "sequence_logprobs",
    "sweep_figure",
    "text_perplexity",
    "throughput_figure",
    "top_k_filter",
    "top_p_filter",
    "tradeoff_figure",
    "warp_logits",
    "words",
]


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_temperature(temperature: float) -> float:
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"temperature={temperature!r} is invalid: it must be a finite number > 0 "
            "(use greedy decoding instead of temperature 0)"
        )
    return float(temperature)


def _check_top_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"top_k={k!r} is invalid: it must be an integer >= 1")
    return int(k)


def _check_top_p(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (0 < p <= 1):
        raise ValueError(f"top_p={p!r} is invalid: it must be a number in (0, 1]")
    return float(p)


def _check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}")
    return int(value)


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating-point torch.Tensor, got {type(logits)}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"logits must have a non-empty last (vocabulary) dimension, got shape "
            f"{tuple(logits.shape)}"
        )


# --------------------------------------------------------------------------------------------
# Logit transforms
# --------------------------------------------------------------------------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits by a temperature ``T > 0``: ``softmax(z / T)``.

    ``T < 1`` sharpens the distribution (``T -> 0`` tends to the one-hot argmax), ``T > 1``
    flattens it (``T -> inf`` tends to uniform over the tokens with finite logits); ``T = 1``
    returns an unchanged copy. Shape in = shape out; the input is not modified.
    """
    t = _check_temperature(temperature)
    _check_logits(logits)
    return logits / t


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits per row, set the rest to ``-inf``.

    Ties with the k-th largest logit are all kept (so more than ``k`` tokens may survive);
    ``k`` larger than the vocabulary keeps everything.

    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0]), 2)
    tensor([-inf, 3., 2.])
    """
    k = _check_top_k(k)
    _check_logits(logits)
    k = min(k, logits.shape[-1])
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


def nucleus_mask(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Boolean mask of the top-p nucleus: the smallest set of tokens with probability mass >= p.

    Tokens are added in order of decreasing probability until the mass reaches ``p``; the token
    whose addition crosses the threshold is kept (without it the mass would be < p), so at least
    one token always survives. Every token tied with that crossing token is kept too (see the
    module docstring). ``p = 1`` keeps every token. Works on ``(V,)`` or ``(..., V)``.
    """
    p = _check_top_p(p)
    _check_logits(logits)
    if p >= 1.0:
        # The whole vocabulary; avoids dropping the far tail when the float cumulative sum
        # reaches 1.0 before the last token.
        return torch.ones_like(logits, dtype=torch.bool)
    # float64 keeps the running sum accurate near the threshold.
    probs = torch.softmax(logits.double(), dim=-1)
    sorted_probs = torch.sort(probs, dim=-1, descending=True).values
    # Mass of the tokens ranked strictly above each position (an exclusive cumulative sum).
    mass_above = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    # A rank is needed while the tokens above it are still short of p; the first rank whose
    # predecessors already reach p is not. The crossing token is the last needed rank.
    n_needed = (mass_above < p).sum(dim=-1, keepdim=True).clamp(min=1)
    crossing_prob = sorted_probs.gather(-1, n_needed - 1)
    return probs >= crossing_prob


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus (top-p) filtering: set logits outside ``nucleus_mask(logits, p)`` to ``-inf``.

    After a softmax the survivors are renormalised: each kept token's probability is divided by
    the nucleus mass (Holtzman et al. 2020).
    """
    mask = nucleus_mask(logits, p)
    return logits.masked_fill(~mask, float("-inf"))


def greedy_token(logits: torch.Tensor) -> torch.Tensor:
    """Index of the largest logit along the last dimension (lowest index among ties)."""
    _check_logits(logits)
    return torch.argmax(logits, dim=-1)


def warp_logits(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
) -> torch.Tensor:
    """Compose the transforms in the order temperature -> top-k -> top-p.

    Top-p is applied to the *tempered* distribution (as transformers does), so raising the
    temperature widens the nucleus. Defaults leave the logits unchanged.
    """
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    _check_top_p(top_p)
    out = apply_temperature(logits, temperature) if temperature != 1.0 else logits.clone()
    if top_k is not None:
        out = top_k_filter(out, top_k)
    if top_p < 1.0:
        out = top_p_filter(out, top_p)
    return out


def sample_token(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row from ``softmax(warp_logits(logits, ...))``.

    ``greedy=True`` ignores the sampling arguments and returns ``greedy_token(logits)``.
    Returns a long tensor of shape ``logits.shape[:-1]``.
    """
    if greedy:
        return greedy_token(logits)
    warped = warp_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    probs = torch.softmax(warped.float(), dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    ids = torch.multinomial(flat, num_samples=1, generator=generator)
    return ids.reshape(probs.shape[:-1])


def entropy_nats(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy ``-sum p log p`` of ``softmax(logits)`` in nats, per row.

    Tokens with ``-inf`` logits contribute 0 (the limit of ``p log p`` as ``p -> 0``).
    """
    _check_logits(logits)
    logp = torch.log_softmax(logits.double(), dim=-1)
    p = logp.exp()
    return -(torch.where(p > 0, p * logp, torch.zeros_like(p))).sum(dim=-1)


# --------------------------------------------------------------------------------------------
# The generation loop
# --------------------------------------------------------------------------------------------


@dataclass
class Generation:
    """One generated continuation.

    prompt_ids: the prompt's token ids (after tokenisation of a string prompt).
    token_ids: the new tokens only (an EOS token that ended generation is included; so is the
        token that completed a stop string).
    text: the decoded new text without special tokens, cut before the first stop string.
    logprobs: natural-log probability (nats) of each token in ``token_ids`` under the model's
        unmodified next-token distribution (raw logits, before suppression, temperature, top-k
        or top-p).
    stopped_by: ``"eos"``, ``"stop_string"`` or ``"max_new_tokens"``.
    seconds: wall-clock time of the whole call (prompt prefill included), in seconds.
    """

    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    logprobs: list[float]
    stopped_by: str
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        """New tokens per wall-clock second."""
        return len(self.token_ids) / self.seconds if self.seconds > 0 else float("nan")

    @property
    def perplexity(self) -> float:
        """``exp(-mean logprob)`` of the new tokens under the generating model (nan if none)."""
        if not self.logprobs:
            return float("nan")
        return math.exp(-sum(self.logprobs) / len(self.logprobs))


_END_TOKENS = ("<|endoftext|>", "<|im_end|>", "<eos>", "<end_of_turn>")


def _eos_ids(lm: CausalLM) -> set[int]:
    ids: set[int] = set()
    tok_eos = getattr(lm.tokenizer, "eos_token_id", None)
    cfg_eos = getattr(getattr(lm.model, "generation_config", None), "eos_token_id", None)
    for value in (tok_eos, cfg_eos):
        if value is None:
            continue
        ids.update([value] if isinstance(value, int) else list(value))
    # Conventional end-of-text / end-of-turn tokens also end a continuation, but only when the
    # tokenizer declares them special (an unknown name would map to the unk id).
    special = set(getattr(lm.tokenizer, "all_special_tokens", ()))
    for name in _END_TOKENS:
        if name in special:
            ids.add(int(lm.tokenizer.convert_tokens_to_ids(name)))
    return ids


def _encode_prompt(lm: CausalLM, prompt: str | Sequence[int]) -> list[int]:
    if isinstance(prompt, str):
        if not prompt:
            raise ValueError("prompt='' is invalid: it must be a non-empty string or id list")
        bos = getattr(lm.tokenizer, "bos_token", None)
        # A prompt rendered by a chat template may already start with the BOS text (Gemma's
        # "<bos>"); adding special tokens again would duplicate it.
        add_special = not (bos and prompt.startswith(bos))
        ids = lm.tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
    else:
        ids = [int(i) for i in prompt]
    if not ids:
        raise ValueError("prompt is invalid: it encodes to zero tokens")
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    bad = [i for i in ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f"prompt contains token ids {bad[:5]} outside [0, {vocab})")
    return ids


def _make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator()
    if seed is None:
        gen.seed()  # fresh, non-deterministic
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"seed={seed!r} is invalid: it must be an integer >= 0, a Generator or None"
        )
    else:
        gen.manual_seed(int(seed))
    return gen


def _first_stop(text: str, stop_strings: Sequence[str], start: int) -> int:
    """Earliest index >= 0 of any stop string whose match ends after ``start``; -1 if none."""
    best = -1
    for s in stop_strings:
        i = text.find(s, max(0, start - len(s) + 1))
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best


def generate_batch(
    lm: CausalLM,
    prompts: Sequence[str | list[int]],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | torch.Generator | None = 0,
    stop_strings: Sequence[str] = (),
    use_cache: bool = True,
) -> list[Generation]:
    """Continue several prompts at once, one row per prompt; returns one Generation per row.

    Prompts of different lengths are left-padded, with an attention mask and explicit
    positions so that padding changes nothing but float rounding; prompts of equal length
    (e.g. one prompt repeated) need no padding at all. Each step runs one new token per row
    and reuses the model's KV cache (``use_cache=True``), or recomputes the whole sequence
    (``use_cache=False``, to show why the cache matters). A row stops at an EOS token (the
    tokenizer's and the generation config's ``eos_token_id``, plus special end tokens such as
    ``<|endoftext|>``), at a stop string, or after ``max_new_tokens``; the batch stops when
    every row has. Tokens in ``lm.suppress_token_ids`` are never emitted. One generator draws
    for all rows. ``seconds`` of each result is the wall time of the whole batch.
    """
    _check_int("max_new_tokens", max_new_tokens, 1)
    if isinstance(prompts, str) or len(prompts) == 0:
        raise ValueError(f"prompts={prompts!r} is invalid: pass a non-empty list of prompts")
    if isinstance(stop_strings, str):
        raise ValueError(
            f"stop_strings={stop_strings!r} is invalid: pass a sequence of strings, e.g. ('\\n',)"
        )
    if any(not isinstance(s, str) or not s for s in stop_strings):
        raise ValueError(f"stop_strings={stop_strings!r} is invalid: each must be a non-empty str")
    if not greedy:  # validate the sampling knobs at the door
        warp_logits(torch.zeros(1), temperature=temperature, top_k=top_k, top_p=top_p)
    generator = _make_generator(seed)
    prompt_ids = [_encode_prompt(lm, prompt) for prompt in prompts]
    eos = _eos_ids(lm)
    model = lm.model
    device = next(model.parameters()).device
    suppress = torch.tensor(sorted(set(lm.suppress_token_ids)), dtype=torch.long, device=device)
    n = len(prompt_ids)
    width = max(len(ids) for ids in prompt_ids)
    padded = any(len(ids) < width for ids in prompt_ids)

    start = time.perf_counter()
    seq = torch.tensor(
        [[ids[0]] * (width - len(ids)) + ids for ids in prompt_ids], dtype=torch.long, device=device
    )
    attention = torch.tensor(
        [[0] * (width - len(ids)) + [1] * len(ids) for ids in prompt_ids], device=device
    )
    new_ids: list[list[int]] = [[] for _ in range(n)]
    logprobs: list[list[float]] = [[] for _ in range(n)]
    stopped: list[str | None] = [None] * n
    texts: list[str] = [""] * n
    cache = None
    with torch.inference_mode():
        step_input = seq
        for _ in range(int(max_new_tokens)):
            extra = {}
            if padded:
                # Positions count real tokens only, so a left-padded row sees the same
                # positions as it would alone; the mask hides the padding from attention.
                positions = (attention.cumsum(-1) - 1).clamp(min=0)
                if use_cache and cache is not None:
                    positions = positions[:, -1:]
                extra = {"attention_mask": attention, "position_ids": positions}
            if use_cache:
                out = model(
                    input_ids=step_input, cache=cache, use_cache=True, logits_to_keep=1, **extra
                )
                cache = out.cache
            else:
                out = model(input_ids=seq, use_cache=False, logits_to_keep=1, **extra)
            raw = out.logits[:, -1, :].float()
            # log p = z - logsumexp(z) under the unmodified distribution; only the chosen
            # token's value is needed, so the full log-softmax is never materialised.
            log_norm = torch.logsumexp(raw, dim=-1)
            logits = raw.index_fill(-1, suppress, float("-inf")) if suppress.numel() else raw
            nxt = sample_token(
                logits,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                greedy=greedy,
                generator=generator,
            )
            chosen_logp = (raw.gather(-1, nxt[:, None])[:, 0] - log_norm).tolist()
            for row, tok in enumerate(nxt.tolist()):
                if stopped[row] is not None:
                    continue
                new_ids[row].append(tok)
                logprobs[row].append(chosen_logp[row])
                if tok in eos:
                    stopped[row] = "eos"
                elif stop_strings:
                    old_len = len(texts[row])
                    texts[row] = lm.tokenizer.decode(new_ids[row], skip_special_tokens=True)
                    if _first_stop(texts[row], stop_strings, min(old_len, len(texts[row]))) >= 0:
                        stopped[row] = "stop_string"
            if all(s is not None for s in stopped):
                break
            step_input = nxt[:, None]
            seq = torch.cat([seq, step_input], dim=1)
            attention = torch.cat([attention, torch.ones_like(step_input)], dim=1)
    seconds = time.perf_counter() - start

    results = []
    for row in range(n):
        ids = new_ids[row]
        body = ids[:-1] if stopped[row] == "eos" else ids
        text = lm.tokenizer.decode(body, skip_special_tokens=True)
        if stopped[row] == "stop_string":
            text = text[: _first_stop(text, stop_strings, 0)]
        results.append(
            Generation(
                prompt_ids=list(prompt_ids[row]),
                token_ids=list(ids),
                text=text,
                logprobs=logprobs[row],
                stopped_by=stopped[row] or "max_new_tokens",
                seconds=seconds,
            )
        )
    return results


def generate_samples(
    lm: CausalLM,
    prompt: str | list[int],
    *,
    num_samples: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | torch.Generator | None = 0,
    stop_strings: Sequence[str] = (),
    use_cache: bool = True,
) -> list[Generation]:
    """Sample ``num_samples`` continuations of one prompt in a single batch (no padding).

    The same as :func:`generate_batch` with the prompt repeated ``num_samples`` times.
    """
    n = _check_int("num_samples", num_samples, 1)
    return generate_batch(
        lm,
        [prompt] * n,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        greedy=greedy,
        seed=seed,
        stop_strings=stop_strings,
        use_cache=use_cache,
    )


def generate(
    lm: CausalLM,
    prompt: str | list[int],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | torch.Generator | None = 0,
    stop_strings: Sequence[str] = (),
    use_cache: bool = True,
) -> Generation:
    """Generate one continuation of ``prompt`` token by token with our own sampler.

    A string prompt is tokenised as is (with the tokenizer's special tokens such as Gemma's
    BOS; apply a chat template yourself first if you want one); a list is used as token ids.
    Sampling is ``softmax(warp_logits(logits, temperature, top_k, top_p))`` or the argmax when
    ``greedy=True``; ``seed`` (an int, a ``torch.Generator`` or None for fresh randomness)
    makes it reproducible. Stops at EOS, at the first of ``stop_strings`` (the text is cut
    before it) or after ``max_new_tokens`` new tokens. See :class:`Generation` for the fields.
    """
    return generate_samples(
        lm,
        prompt,
        num_samples=1,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        greedy=greedy,
        seed=seed,
        stop_strings=stop_strings,
        use_cache=use_cache,
    )[0]


# --------------------------------------------------------------------------------------------
# Scoring text under a model
# --------------------------------------------------------------------------------------------


def next_token_logits(lm: CausalLM, prompt: str | list[int]) -> torch.Tensor:
    """Raw next-token logits of shape ``(V,)`` (float32) after ``prompt``.

    Tokens in ``lm.suppress_token_ids`` are set to ``-inf``, since generation never emits them;
    everything else is the model's unmodified output.
    """
    ids = _encode_prompt(lm, prompt)
    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([ids]), use_cache=False, logits_to_keep=1)
    logits = out.logits[0, -1].float().clone()
    if lm.suppress_token_ids:
        logits[list(lm.suppress_token_ids)] = float("-inf")
    return logits


def sequence_logprobs(
    lm: CausalLM, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
) -> list[list[float]]:
    """Log-probabilities (nats) of each continuation token given the prompt and earlier tokens.

    All continuations share ``prompt_ids``; they are scored in one right-padded batch (with a
    causal model, padding *after* a token cannot change that token's prediction, so no
    attention mask is needed). Returns one list per continuation, of its length.
    """
    prompt_ids = [int(i) for i in prompt_ids]
    if not prompt_ids:
        raise ValueError("prompt_ids is invalid: it must hold at least one token id")
    conts = [[int(i) for i in c] for c in continuations]
    longest = max((len(c) for c in conts), default=0)
    if longest == 0:
        return [[] for _ in conts]
    rows = [prompt_ids + c + [prompt_ids[0]] * (longest - len(c)) for c in conts]
    with torch.inference_mode():
        # Position t predicts token t + 1, so the last longest + 1 positions (from the prompt's
        # last token on) cover every continuation token; the vocabulary projection is skipped
        # for the rest of the prompt.
        out = lm.model(input_ids=torch.tensor(rows), use_cache=False, logits_to_keep=longest + 1)
        logits = out.logits[:, :longest].float()
        targets = torch.tensor([c + [0] * (longest - len(c)) for c in conts])
        # log p = z - logsumexp(z), without materialising a second (B, L, V) tensor.
        picked = logits.gather(-1, targets[..., None])[..., 0] - torch.logsumexp(logits, dim=-1)
    return [picked[i, : len(c)].tolist() for i, c in enumerate(conts)]


def text_perplexity(
    lm: CausalLM, prompt: str, continuations: str | Sequence[str]
) -> float | list[float]:
    """Perplexity ``exp(-mean log p)`` of continuation text given ``prompt`` under ``lm``.

    The text is re-tokenised with ``lm``'s own tokenizer (prompt with its special tokens, the
    continuation without), so any model can judge text written by another. The unit is *that
    model's* tokens; empty continuations give ``nan``. One string in, one float out; a list in,
    a list out.
    """
    single = isinstance(continuations, str)
    texts = [continuations] if single else list(continuations)
    prompt_ids = _encode_prompt(lm, prompt)
    conts = [lm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    scored = sequence_logprobs(lm, prompt_ids, conts)
    ppl = [math.exp(-sum(s) / len(s)) if s else float("nan") for s in scored]
    return ppl[0] if single else ppl


# --------------------------------------------------------------------------------------------
# Diversity and repetition metrics (over words: lower-cased \w+ runs and punctuation marks)
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens of ``text`` (the unit of the metrics below)."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All contiguous n-grams of a token list (empty if it is shorter than ``n``)."""
    _check_int("n", n, 1)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: str | Sequence[str], n: int) -> float:
    """Distinct-n (Li et al. 2016): unique n-grams / all n-grams, pooled over ``texts``.

    In [0, 1]; 1 means no n-gram occurs twice in the whole set. ``nan`` if there are no n-grams.

    >>> distinct_n(["a b a b"], 1)
    0.5
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    grams = [g for t in texts for g in ngrams(words(t), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def repetition_rate(texts: str | Sequence[str], n: int = 4) -> float | list[float]:
    """Within-text repetition (seq-rep-n, Welleck et al. 2020): 1 - unique/all n-grams.

    0 means no n-gram repeats inside the text; values near 1 mean a loop. ``nan`` for a text
    with no n-grams. One string in, one float out; a list in, a list out.
    """
    single = isinstance(texts, str)
    out = [1.0 - distinct_n(t, n) for t in ([texts] if single else texts)]
    return out[0] if single else out


def sentence_bleu(hypothesis: str, references: Sequence[str], max_n: int = 4) -> float:
    """BLEU of one text against references (Papineni et al. 2002), in [0, 1].

    Geometric mean of clipped n-gram precisions for n = 1..max_n, times the brevity penalty
    ``exp(1 - r/c)`` when the hypothesis (length c) is shorter than the reference closest in
    length (r). Precisions for n >= 2 use add-one smoothing (Lin & Och 2004), so short texts
    with no shared 4-gram do not all collapse to 0; unigram precision is unsmoothed.
    """
    if isinstance(references, str) or len(references) == 0:
        raise ValueError(f"references={references!r} is invalid: pass a non-empty list of str")
    _check_int("max_n", max_n, 1)
    hyp = words(hypothesis)
    refs = [words(r) for r in references]
    if not hyp:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_n + 1):
        counts = Counter(ngrams(hyp, n))
        max_ref: Counter[tuple[str, ...]] = Counter()
        for ref in refs:
            for gram, c in Counter(ngrams(ref, n)).items():
                max_ref[gram] = max(max_ref[gram], c)
        matched = sum(min(c, max_ref[g]) for g, c in counts.items())
        total = sum(counts.values())
        if n == 1:
            if matched == 0:
                return 0.0
            log_precision += math.log(matched / total)
        else:
            log_precision += math.log((matched + 1) / (total + 1))
    c = len(hyp)
    r = min((len(ref) for ref in refs), key=lambda length: (abs(length - c), length))
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(log_precision / max_n)


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Self-BLEU (Zhu et al. 2018): mean BLEU of each text against all the others.

    High (near 1) means the texts repeat each other (low diversity); needs at least two texts.
    """
    texts = list(texts)
    if len(texts) < 2:
        raise ValueError(f"texts has {len(texts)} item(s); self-BLEU needs at least 2")
    scores = [
        sentence_bleu(t, texts[:i] + texts[i + 1 :], max_n=max_n) for i, t in enumerate(texts)
    ]
    return sum(scores) / len(scores)


# --------------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodingSetting:
    """One decoding configuration of a sweep (``greedy=True`` ignores the other knobs)."""

    label: str
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float = 1.0
    greedy: bool = False


@dataclass
class SettingScores:
    """Diversity and quality of one setting, averaged over prompts.

    distinct_1, distinct_2: distinct-n over the samples of one prompt (then averaged).
    self_bleu: self-BLEU over the samples of one prompt (then averaged); 1 = all identical.
    repetition: mean seq-rep-4 of single samples (within-sample loops).
    ppl_self: perplexity of the samples under the generating model (its tokens).
    ppl_judge: perplexity under the judge model (its tokens), nan without a judge.
    mean_tokens: mean number of generated tokens per sample.
    samples: the generated texts, per prompt.
    """

    setting: DecodingSetting
    distinct_1: float
    distinct_2: float
    self_bleu: float
    repetition: float
    ppl_self: float
    ppl_judge: float
    mean_tokens: float
    samples: list[list[str]]


def decoding_sweep(
    lm: CausalLM,
    prompts: Sequence[str],
    settings: Sequence[DecodingSetting],
    *,
    num_samples: int,
    max_new_tokens: int,
    seed: int = 0,
    judge: CausalLM | None = None,
) -> list[SettingScores]:
    """Sample ``num_samples`` continuations per prompt for each setting and score them.

    Each setting runs as one batch of ``len(prompts) * num_samples`` rows (left-padded, see
    :func:`generate_batch`) drawn with the same ``seed``, so settings differ only in their
    knobs. Greedy decoding is deterministic, so it runs once per prompt and its text is counted
    ``num_samples`` times (exactly what repeated greedy runs would give). Perplexities are
    token-weighted over all samples of a setting: ``exp(total nats / total tokens)``.
    """
    if len(prompts) == 0:
        raise ValueError("prompts is empty: pass at least one prompt")
    _check_int("num_samples", num_samples, 2)  # self-BLEU needs two samples per prompt
    results = []
    for setting in settings:
        per_prompt: list[list[str]] = []
        d1, d2, sb, rep, self_nats, judge_nats = [], [], [], [], [], []
        n_tokens = n_judge_tokens = 0
        per_row = 1 if setting.greedy else num_samples
        batch = generate_batch(
            lm,
            [prompt for prompt in prompts for _ in range(per_row)],
            max_new_tokens=max_new_tokens,
            temperature=setting.temperature,
            top_k=setting.top_k,
            top_p=setting.top_p,
            greedy=setting.greedy,
            seed=seed,
        )
        for j, prompt in enumerate(prompts):
            gens = batch[j * per_row : (j + 1) * per_row] * (num_samples // per_row)
            texts = [g.text for g in gens]
            per_prompt.append(texts)
            d1.append(distinct_n(texts, 1))
            d2.append(distinct_n(texts, 2))
            sb.append(self_bleu(texts))
            rep.extend(r for r in repetition_rate(texts) if not math.isnan(r))
            for g in gens:
                self_nats.append(-sum(g.logprobs))
                n_tokens += len(g.logprobs)
            if judge is not None:
                jp = _encode_prompt(judge, prompt)
                conts = [judge.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
                unique = {tuple(c) for c in conts}
                scored = dict(zip(unique, sequence_logprobs(judge, jp, list(unique)), strict=True))
                for c in conts:
                    judge_nats.append(-sum(scored[tuple(c)]))
                    n_judge_tokens += len(c)
        results.append(
            SettingScores(
                setting=setting,
                distinct_1=_nanmean(d1),
                distinct_2=_nanmean(d2),
                self_bleu=_nanmean(sb),
                repetition=_nanmean(rep),
                ppl_self=math.exp(sum(self_nats) / n_tokens) if n_tokens else float("nan"),
                ppl_judge=(
                    math.exp(sum(judge_nats) / n_judge_tokens) if n_judge_tokens else float("nan")
                ),
                mean_tokens=n_tokens / (len(prompts) * num_samples),
                samples=per_prompt,
            )
        )
    return results


def _nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float("nan")


@dataclass
class Throughput:
    """Median new tokens per second of three ways to generate the same continuation.

    ours: :func:`generate` with the KV cache; no_cache: :func:`generate` recomputing the whole
    sequence each step; reference: transformers' ``model.generate`` with the same settings.
    same_tokens: whether ours and the reference produced identical tokens in every repeat
    (expected for greedy decoding). ratio: ours / reference; cache_speedup: ours / no_cache.
    """

    ours: float
    no_cache: float
    reference: float
    same_tokens: bool
    new_tokens: int

    @property
    def ratio(self) -> float:
        return self.ours / self.reference

    @property
    def cache_speedup(self) -> float:
        return self.ours / self.no_cache


def measure_throughput(
    lm: CausalLM,
    prompt: str,
    *,
    max_new_tokens: int,
    repeats: int = 3,
    greedy: bool = True,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    include_no_cache: bool = True,
) -> Throughput:
    """Time our loop (with and without KV cache) against ``model.generate`` on one prompt.

    The three are interleaved ``repeats`` times (so slow drifts in machine load hit all alike)
    and each reports the median of its tokens-per-second figures (tokens / wall seconds,
    prefill included). ``model.generate`` gets the same stopping tokens, suppressed tokens and
    sampling knobs (with its default top-k of 50 disabled).
    """
    from transformers import GenerationConfig

    _check_int("repeats", repeats, 1)
    prompt_ids = _encode_prompt(lm, prompt)
    eos = sorted(_eos_ids(lm))
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=not greedy,
        temperature=temperature if not greedy else None,
        top_p=top_p if not greedy else None,
        top_k=None,
        eos_token_id=eos,
        pad_token_id=eos[0] if eos else 0,
        suppress_tokens=list(lm.suppress_token_ids) or None,
    )
    ours, no_cache, ref = [], [], []
    same = True
    knobs = {"greedy": greedy, "temperature": temperature, "top_p": top_p}
    for r in range(int(repeats)):
        g = generate(lm, prompt_ids, max_new_tokens=max_new_tokens, seed=seed + r, **knobs)
        ours.append(g.tokens_per_second)
        if include_no_cache:
            h = generate(
                lm, prompt_ids, max_new_tokens=max_new_tokens, seed=seed + r, use_cache=False,
                **knobs,
            )  # fmt: skip
            no_cache.append(h.tokens_per_second)
        torch.manual_seed(seed + r)
        start = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(torch.tensor([prompt_ids]), generation_config=config)
        seconds = time.perf_counter() - start
        new = out[0, len(prompt_ids) :].tolist()  # an EOS token counts in both loops
        ref.append(len(new) / seconds)
        same = same and new == g.token_ids
    return Throughput(
        ours=_median(ours),
        no_cache=_median(no_cache) if no_cache else float("nan"),
        reference=_median(ref),
        same_tokens=same,
        new_tokens=len(g.token_ids),
    )


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def distribution_slider(
    lm: CausalLM,
    logits: torch.Tensor,
    *,
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    top_n: int = 20,
    context: str = "",
    active: int = 0,
) -> Any:
    """A plotly figure with one slider step per temperature (or per top-p) for one context.

    Exactly one of ``temperatures`` / ``top_ps`` may hold several values: the slider runs over
    it while the other stays fixed. Each step shows the ``top_n`` most likely tokens (in the
    model's order, which temperature never changes) with their tempered probabilities; tokens
    in the nucleus are orange, the rest grey, and diamonds mark the renormalised probabilities
    actually sampled from. The title gives the nucleus size and mass and the entropy (nats)
    before and after truncation; ``context`` (the prompt) goes into the x-axis title. Every
    step is precomputed, so it works in static HTML; ``active`` is the step shown first.
    """
    import plotly.graph_objects as go

    from support.plots import slider_figure

    temperatures, top_ps = list(temperatures), list(top_ps)
    if not temperatures or not top_ps or (len(temperatures) > 1 and len(top_ps) > 1):
        raise ValueError(
            f"temperatures (len {len(temperatures)}) and top_ps (len {len(top_ps)}) are invalid: "
            "both must be non-empty and at most one may hold several values"
        )
    _check_int("top_n", top_n, 1)
    vary_t = len(temperatures) > 1
    order = torch.argsort(logits, descending=True)[: min(top_n, logits.shape[-1])]
    names = [repr(lm.tokenizer.decode([int(i)])) for i in order]
    steps, labels, titles = [], [], []
    for t in temperatures:
        for p in top_ps:
            tempered = apply_temperature(logits, t)
            probs = torch.softmax(tempered.double(), dim=-1)
            mask = nucleus_mask(tempered, p)
            mass = float(probs[mask].sum())
            kept = torch.where(mask, probs, torch.zeros_like(probs)) / mass
            shown_kept = mask[order].tolist()
            h_full = float(entropy_nats(tempered))
            h_kept = float(entropy_nats(top_p_filter(tempered, p)))
            steps.append(
                [
                    go.Bar(
                        x=names,
                        y=probs[order].tolist(),
                        marker_color=["#ff7f0e" if k else "#b0b0b0" for k in shown_kept],
                        name="tempered probability (orange: in the nucleus)",
                    ),
                    go.Scatter(
                        x=names,
                        y=[
                            float(v) if k else None
                            for v, k in zip(kept[order], shown_kept, strict=True)
                        ],
                        mode="markers",
                        marker={"symbol": "diamond", "size": 9, "color": "#1f3b73"},
                        name="renormalised (sampled)",
                    ),
                ]
            )
            labels.append(f"{t:g}" if vary_t else f"{p:g}")
            titles.append(
                f"T = {t:g}, top-p = {p:g}: nucleus of {int(mask.sum())} tokens, "
                f"mass {mass:.2f}<br>entropy {h_full:.2f} nats, {h_kept:.2f} after truncation"
            )
    where = f" after {context!r}" if context else ""
    fig = slider_figure(
        steps,
        labels,
        titles,
        slider_prefix="temperature T = " if vary_t else "top-p = ",
        layout={
            "xaxis_title": f"candidate next token{where}",
            "yaxis_title": "probability",
            "yaxis_range": [0, 1],
            "height": 600,
            "title_font_size": 14,
            "margin": {"t": 110, "b": 40},
            "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        },
        active=active,
    )
    fig.layout.sliders[0].pad.t = 110  # below the rotated token labels and the axis title
    return fig


_DIVERSITY = (
    ("distinct_2", "distinct-2", "#1f77b4"),
    ("self_bleu", "self-BLEU", "#d62728"),
    ("repetition", "repetition (4-gram)", "#9467bd"),
)


def sweep_figure(
    temperature_scores: Sequence[SettingScores],
    top_p_scores: Sequence[SettingScores],
    baseline: SettingScores,
    *,
    model_name: str,
    judge_name: str,
) -> Any:
    """2 x 2 plotly figure: diversity (top row) and perplexity (bottom, log) of a sweep.

    Left column: the settings of ``temperature_scores`` against their temperature; right
    column: ``top_p_scores`` against their top-p. Dotted lines repeat ``baseline`` (greedy).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=2,
        cols=2,
        shared_xaxes="columns",
        vertical_spacing=0.12,
        horizontal_spacing=0.1,
        subplot_titles=("varying temperature", "varying top-p", "", ""),
    )
    quality = (
        ("ppl_self", f"PPL under {model_name}", "#2ca02c"),
        ("ppl_judge", f"PPL under {judge_name}", "#ff7f0e"),
    )
    columns = [
        ([s.setting.temperature for s in temperature_scores], temperature_scores),
        ([s.setting.top_p for s in top_p_scores], top_p_scores),
    ]
    for col, (xs, group) in enumerate(columns, start=1):
        for row, metrics in ((1, _DIVERSITY), (2, quality)):
            for attr, name, colour in metrics:
                legend = {"legendgroup": name, "showlegend": col == 1}
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=[getattr(s, attr) for s in group],
                        name=name,
                        line_color=colour,
                        **legend,
                    ),
                    row=row,
                    col=col,
                )
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=[getattr(baseline, attr)] * len(xs),
                        mode="lines",
                        line={"color": colour, "dash": "dot"},
                        name=f"{name}, {baseline.setting.label}",
                        **legend,
                    ),
                    row=row,
                    col=col,
                )
    fig.update_yaxes(range=[0, 1.05], row=1)
    fig.update_yaxes(type="log", row=2)
    fig.update_yaxes(title_text="diversity score (0 to 1)", row=1, col=1)
    fig.update_yaxes(title_text="perplexity per token (log)", row=2, col=1)
    fig.update_xaxes(title_text="temperature T (top-p = 1)", row=2, col=1)
    fig.update_xaxes(title_text="top-p (T = 1)", row=2, col=2)
    fig.update_layout(
        title=f"Diversity and perplexity of {model_name}'s samples<br>"
        f"<sup>dotted lines: {baseline.setting.label} decoding</sup>",
        height=860,
        margin={"t": 90},
        legend={"orientation": "h", "x": 0, "y": -0.1, "yanchor": "top"},
    )
    return fig


def tradeoff_figure(
    sweeps: dict[str, Sequence[SettingScores]],
    points: Sequence[SettingScores],
    *,
    judge_name: str,
) -> Any:
    """Scatter of diversity (distinct-2) against the judge's perplexity (log scale).

    Each entry of ``sweeps`` is drawn as a labelled line through its settings; each of
    ``points`` (e.g. greedy, top-k) as a single marker.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for (name, group), position in zip(
        sweeps.items(), ("top left", "bottom right", "top right", "bottom left"), strict=False
    ):
        fig.add_scatter(
            x=[s.distinct_2 for s in group],
            y=[s.ppl_judge for s in group],
            mode="lines+markers+text",
            text=[s.setting.label for s in group],
            textposition=position,
            textfont={"size": 10},
            name=name,
        )
    for s, symbol in zip(points, ("star", "square", "diamond", "cross"), strict=False):
        fig.add_scatter(
            x=[s.distinct_2],
            y=[s.ppl_judge],
            mode="markers+text",
            text=[s.setting.label],
            textposition="bottom right",
            textfont={"size": 10},
            marker={"symbol": symbol, "size": 14},
            name=s.setting.label,
        )
    fig.update_layout(
        title=f"Diversity versus the judge's perplexity ({judge_name})",
        xaxis_title="distinct-2 across the samples of a prompt (0 to 1)",
        yaxis={"title": "judge perplexity per token (log)", "type": "log"},
        height=560,
        legend={"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
    )
    return fig


def throughput_figure(timings: dict[int, Throughput], *, model_name: str) -> Any:
    """Line plot of new tokens per second against the number of new tokens, three ways."""
    import plotly.graph_objects as go

    lengths = sorted(timings)
    fig = go.Figure()
    for attr, name in (
        ("ours", "ours, KV cache"),
        ("reference", "model.generate"),
        ("no_cache", "ours, no cache"),
    ):
        fig.add_scatter(
            x=lengths, y=[getattr(timings[n], attr) for n in lengths], mode="lines+markers",
            name=name,
        )  # fmt: skip
    fig.update_layout(
        title=f"Generation speed of {model_name} on this CPU<br>"
        "<sup>greedy decoding, median of interleaved repeats</sup>",
        xaxis_title="new tokens generated (count)",
        yaxis_title="throughput (new tokens per second)",
        yaxis_rangemode="tozero",
        height=460,
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    )
    return fig


def entropy_figure(
    lm: CausalLM, contexts: dict[str, str], temperatures: Sequence[float]
) -> tuple[Any, dict[str, torch.Tensor]]:
    """Entropy (nats) of the next-token distribution against temperature, one line per context.

    ``contexts`` maps a short label to a prompt. Adds the ceiling ``ln V`` (uniform over the
    tokens with finite logits) and a marker at ``T = 1``. Returns the figure and the raw
    next-token logits of each context (see :func:`next_token_logits`), keyed by label.
    """
    import plotly.graph_objects as go

    if len(contexts) == 0 or len(temperatures) == 0:
        raise ValueError("contexts and temperatures must both be non-empty")
    logits = {label: next_token_logits(lm, prompt) for label, prompt in contexts.items()}
    fig = go.Figure()
    for label, z in logits.items():
        h = [float(entropy_nats(apply_temperature(z, float(t)))) for t in temperatures]
        fig.add_scatter(
            x=list(temperatures), y=h, mode="lines", name=f"{label}: {contexts[label]!r}"
        )
    vocab = max(int(torch.isfinite(z).sum()) for z in logits.values())
    fig.add_hline(
        y=math.log(vocab),
        line_dash="dash",
        annotation_text="ln V (uniform)",
        annotation_position="bottom right",
    )
    fig.add_vline(x=1.0, line_dash="dot", annotation_text="T = 1", annotation_position="left")
    fig.update_layout(
        title=f"Entropy of {lm.name}'s next token versus temperature",
        xaxis={"title": "temperature T (dimensionless, log scale)", "type": "log"},
        yaxis_title="entropy (nats)",
        height=460,
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    )
    return fig, logits
