"""Tests for support.training: splits, batches, LR schedule, the train loop and FLOP counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from support.tinylm import TinyLM, TinyLMConfig
from support.training import (
    bits_per_character,
    causal_batch,
    eval_windows,
    evaluate_causal_loss,
    flops_per_token,
    lr_schedule,
    sample_windows,
    split_lines,
    train,
    training_flops,
)


def test_split_lines_partitions_whole_lines() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    tr, va = split_lines(text, val_fraction=0.2, seed=3)
    lines_tr, lines_va = tr.splitlines(), va.splitlines()
    assert sorted(lines_tr + lines_va, key=lambda s: int(s.split()[1])) == text.splitlines()
    assert not set(lines_tr) & set(lines_va)
    assert 150 < len(lines_va) < 250
    assert split_lines(text, val_fraction=0.2, seed=3) == (tr, va)
    with pytest.raises(ValueError, match="val_fraction"):
        split_lines(text, val_fraction=1.0)


def test_windows_are_contiguous_and_shifted() -> None:
    tokens = np.arange(100)
    g = torch.Generator().manual_seed(0)
    w = sample_windows(tokens, 7, 10, generator=g)
    assert w.shape == (7, 10) and w.dtype == torch.long
    assert torch.equal(w - w[:, :1], torch.arange(10).expand(7, 10))  # consecutive ids
    x, y = causal_batch(tokens, 4, 9, generator=g)
    assert x.shape == y.shape == (4, 9) and torch.equal(y, x + 1)
    with pytest.raises(ValueError, match="length"):
        sample_windows(tokens, 2, 101, generator=g)


def test_eval_windows_cover_the_stream_evenly() -> None:
    w = eval_windows(np.arange(50), 10, 5)
    assert w[0, 0] == 0 and w[-1, -1] == 49
    assert torch.equal(w, eval_windows(np.arange(50), 10, 5))


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(2, 400),
    warm_frac=st.floats(0.0, 0.9),
    ratio=st.floats(0.0, 1.0),
)
def test_lr_schedule_matches_torch_cosine(total: int, warm_frac: float, ratio: float) -> None:
    warmup = int(warm_frac * total)
    lrs = [
        lr_schedule(s, max_lr=1.0, total_steps=total, warmup_steps=warmup, min_lr_ratio=ratio)
        for s in range(total + 1)
    ]
    assert max(lrs) == pytest.approx(1.0)
    if warmup:
        assert lrs[:warmup] == pytest.approx([(s + 1) / warmup for s in range(warmup)])
    # independent reference for the decay: torch's CosineAnnealingLR with the same floor
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, total - warmup), eta_min=ratio
    )
    reference = []
    for _ in range(total - warmup + 1):
        reference.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    if total > warmup:
        assert lrs[warmup:] == pytest.approx(reference, abs=1e-9)
        assert lrs[-1] == pytest.approx(ratio)
    assert all(a >= b - 1e-12 for a, b in zip(lrs[warmup:], lrs[warmup + 1 :], strict=False))


def test_lr_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        lr_schedule(0, max_lr=1.0, total_steps=10, warmup_steps=11)
    with pytest.raises(ValueError, match="max_lr"):
        lr_schedule(0, max_lr=0.0, total_steps=10, warmup_steps=1)


def _tiny_model() -> TinyLM:
    return TinyLM(TinyLMConfig(vocab_size=8, block_size=16, n_layer=1, n_head=2, d_model=16))


def test_train_learns_a_periodic_sequence_reproducibly() -> None:
    tokens = np.tile(np.arange(8), 200)  # 0 1 2 ... 7 0 1 ...: perfectly predictable
    windows = eval_windows(tokens, 17, 16)

    def run() -> tuple[TinyLM, object]:
        model = _tiny_model()
        result = train(
            model,
            lambda g: causal_batch(tokens, 8, 16, generator=g),
            steps=60,
            max_lr=1e-2,
            eval_fn=lambda m: evaluate_causal_loss(m, windows),
            eval_every=30,
        )
        return model, result

    state = torch.random.get_rng_state()
    model, result = run()
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG left untouched
    assert result.tokens == 60 * 8 * 16 and result.steps == 60
    assert [s for s, _ in result.evals] == [30, 60]
    assert result.final_eval < 0.1 < math.log(8) - 0.5 < result.history["loss"][0]
    assert result.tokens_per_second > 0
    _, again = run()
    assert again.history["loss"] == result.history["loss"]


def test_evaluate_causal_loss_weights_every_prediction_equally() -> None:
    model = _tiny_model().eval()
    w = torch.randint(0, 8, (5, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, loss = model(w[:, :-1], w[:, 1:])
    assert evaluate_causal_loss(model, w, batch_size=2) == pytest.approx(loss.item(), rel=1e-5)


def test_flops_per_token_matches_torch_flop_counter() -> None:
    cfg = TinyLMConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, d_model=32)
    model = TinyLM(cfg)
    x = torch.randint(0, 50, (3, 16))
    with FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    # torch's counter sees the matmuls of weights (not the fused CPU attention kernel)
    assert counter.get_total_flops() == flops_per_token(cfg, attention=False) * x.numel()
    assert flops_per_token(cfg, attention=False, embedding=False) == 6 * 12 * 2 * 32**2
    assert flops_per_token(cfg, training=False) == pytest.approx(flops_per_token(cfg) / 3)


def test_compute_and_bits() -> None:
    assert training_flops(1e6, 2e7) == 6 * 1e6 * 2e7
    np.testing.assert_allclose(training_flops(np.array([1.0, 2.0]), 3.0), [18.0, 36.0])
    assert bits_per_character(math.log(2)) == pytest.approx(1.0)
    assert bits_per_character(2 * math.log(2), chars_per_token=2.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n_params"):
        training_flops(0, 1)
