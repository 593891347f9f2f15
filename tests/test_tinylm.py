"""Tests for support.tinylm: masks, parameter counts, causality, loss and generation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from support.tinylm import TinyLM, TinyLMConfig, attention_mask


def small(causal: bool = True, **kw) -> TinyLM:
    cfg = TinyLMConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, d_model=16, causal=causal)
    return TinyLM(TinyLMConfig(**{**cfg.to_dict(), **kw}), seed=0).eval()


def test_attention_masks() -> None:
    assert torch.equal(attention_mask(5, True), torch.ones(5, 5).tril().bool())
    assert attention_mask(5, False).all()
    with pytest.raises(ValueError, match="block_size"):
        attention_mask(0, True)


@pytest.mark.parametrize(
    ("n_layer", "d_model", "vocab", "block"), [(1, 24, 94, 64), (3, 64, 50, 16)]
)
def test_num_params_matches_hand_count(n_layer: int, d_model: int, vocab: int, block: int) -> None:
    cfg = TinyLMConfig(vocab, block, n_layer, 2, d_model)
    model = TinyLM(cfg)
    d = d_model
    # per block: qkv 3d^2+3d, proj d^2+d, up 4d^2+4d, down 4d^2+d, two LayerNorms 4d
    per_block = 12 * d * d + 13 * d
    assert model.num_params() == n_layer * per_block + 2 * d  # + final LayerNorm
    assert model.num_params(non_embedding=False) == model.num_params() + (vocab + block) * d


def test_same_seed_same_weights() -> None:
    a, b, c = small(), small(), TinyLM(small().config, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))


@pytest.mark.parametrize("causal", [True, False])
def test_causal_switch_controls_information_flow(causal: bool) -> None:
    model = small(causal)
    x = torch.randint(0, 11, (1, 8), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[0, 5] = (x[0, 5] + 1) % 11  # change one "future" token
    with torch.no_grad():
        lx, _ = model(x)
        ly, _ = model(y)
    earlier_same = torch.allclose(lx[0, :5], ly[0, :5], atol=1e-6)
    assert earlier_same == causal


def test_loss_is_cross_entropy_with_ignore_index() -> None:
    model = small()
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 11, (3, 8), generator=gen)
    t = torch.randint(0, 11, (3, 8), generator=gen)
    t[:, ::2] = -100
    logits, loss = model(x, t)
    keep = t != -100
    manual = -F.log_softmax(logits, -1)[keep].gather(-1, t[keep][:, None]).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-6)
    # at initialisation the prediction is close to uniform: loss ~ ln V
    assert abs(loss.item() - math.log(11)) < 0.1


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_mask_path_matches_builtin(causal: bool) -> None:
    model = small(causal)
    x = torch.randint(0, 11, (2, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, _ = model(x)
        b, _ = model(x, key_mask=torch.ones_like(x, dtype=torch.bool))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_right_padding_does_not_change_real_positions() -> None:
    model = small(causal=False)
    x = torch.tensor([[3, 4, 5, 6, 0, 0, 0, 0]])
    keep = x != 0
    other = x.clone()
    other[0, 4:] = torch.tensor([7, 8, 9, 10])  # different junk under the padding
    with torch.no_grad():
        a, _ = model(x, key_mask=keep)
        b, _ = model(other, key_mask=keep)
        short, _ = model(x[:, :4])
    torch.testing.assert_close(a[0, :4], b[0, :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a[0, :4], short[0], atol=1e-5, rtol=1e-5)


def test_generate_is_seeded_and_respects_suppression() -> None:
    model = small()
    start = torch.zeros(2, 1, dtype=torch.long)
    a = model.generate(start, 20, generator=torch.Generator().manual_seed(0), suppress_ids=(0, 1))
    b = model.generate(start, 20, generator=torch.Generator().manual_seed(0), suppress_ids=(0, 1))
    assert a.shape == (2, 21) and torch.equal(a, b)
    assert not torch.isin(a[:, 1:], torch.tensor([0, 1])).any()
    greedy = model.generate(start, 3, top_k=1)
    with torch.no_grad():
        first, _ = model(start)
    assert greedy[0, 1].item() == first[0, -1].argmax().item()
    with pytest.raises(ValueError, match="causal"):
        small(causal=False).generate(start, 2)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(start, 2, temperature=0.0)


def test_bad_config_and_inputs_raise() -> None:
    with pytest.raises(ValueError, match="n_head must divide d_model"):
        TinyLMConfig(10, 8, 1, 3, 16)
    with pytest.raises(ValueError, match="dropout"):
        TinyLMConfig(10, 8, 1, 2, 16, dropout=1.0)
    with pytest.raises(ValueError, match="vocab_size"):
        TinyLMConfig(0, 8, 1, 2, 16)
    with pytest.raises(ValueError, match="block_size"):
        small()(torch.zeros(1, 9, dtype=torch.long))
