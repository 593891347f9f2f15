"""Tests for support.chars: the character vocabulary with reserved special tokens."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.chars import MASK, PAD, SPECIAL_TOKENS, UNK, CharVocab

ALPHABET = "abcdefgh ij,.\n\u00e9\U0001f600"  # includes a 2-byte and a 4-byte UTF-8 character


def test_special_tokens_have_fixed_ids() -> None:
    vocab = CharVocab.from_text("hello")
    assert vocab.itos[:3] == (PAD, MASK, UNK) == SPECIAL_TOKENS
    assert (vocab.pad_id, vocab.mask_id, vocab.unk_id) == vocab.special_ids == (0, 1, 2)
    assert vocab.vocab_size == len(vocab) == 3 + len(set("hello"))


def test_encode_matches_a_dictionary_lookup() -> None:
    text = "the cat sat on the mat"
    vocab = CharVocab.from_text(text)
    reference = {c: i for i, c in enumerate(vocab.itos)}
    assert vocab.encode(text).tolist() == [reference[c] for c in text]
    assert vocab.encode(text).dtype == np.int64


def test_docstring_example() -> None:
    vocab = CharVocab.from_text("hello world")
    assert vocab.encode("he").tolist() == [6, 5]
    batch = vocab.encode(["he", "lo"])
    assert isinstance(batch, list) and [b.tolist() for b in batch] == [[6, 5], [7, 8]]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_round_trip(text: str) -> None:
    vocab = CharVocab.from_text(ALPHABET)
    assert vocab.decode(vocab.encode(text)) == text


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcxyz\u00e9", max_size=40))
def test_unseen_characters_become_unk(text: str) -> None:
    vocab = CharVocab.from_text("abc")
    ids = vocab.encode(text)
    for ch, i in zip(text, ids.tolist(), strict=True):
        assert i == (vocab.token_to_id(ch) if ch in "abc" else vocab.unk_id)


def test_min_count_and_decode_options() -> None:
    vocab = CharVocab.from_text(["aaab", "bc"], min_count=2)
    assert vocab.itos[3:] == ("a", "b")
    ids = np.array([vocab.mask_id, *vocab.encode("ab"), vocab.pad_id])
    assert vocab.decode(ids) == "[MASK]ab[PAD]"
    assert vocab.decode(ids, skip_special=True) == "ab"
    assert vocab.encode("").tolist() == []


def test_bad_input_raises() -> None:
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match="ids must lie in"):
        vocab.decode([0, 99])
    with pytest.raises(ValueError, match="min_count"):
        CharVocab.from_text("abc", min_count=0)
    with pytest.raises(ValueError, match="special tokens"):
        CharVocab(("a", "b", "c"))
    with pytest.raises(ValueError, match="single characters"):
        CharVocab((*SPECIAL_TOKENS, "ab"))
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode(np.zeros((2, 2), dtype=int))
