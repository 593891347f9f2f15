"""A character-level vocabulary: every distinct character of a text becomes one token.

Character tokens keep the embedding table tiny (a few hundred rows), so almost all of a small
model's parameters sit in its transformer blocks. That is what Kaplan et al. (2020) count as
"non-embedding parameters", and it is why the scaling chapter tokenises by character.

Three special tokens are reserved at fixed ids so the masked-LM chapter can use the same
vocabulary:

* ``[PAD]`` (id 0) fills short sequences up to a common length;
* ``[MASK]`` (id 1) replaces a character the model must reconstruct;
* ``[UNK]`` (id 2) stands for any character not seen when the vocabulary was built.

Example::

    >>> vocab = CharVocab.from_text("hello world")
    >>> vocab.decode(vocab.encode("hello"))
    'hello'
    >>> vocab.encode(["he", "lo"])  # a batch gives a list of arrays
    [array([6, 5]), array([7, 8])]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD = "[PAD]"
MASK = "[MASK]"
UNK = "[UNK]"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, MASK, UNK)

__all__ = ["MASK", "PAD", "SPECIAL_TOKENS", "UNK", "CharVocab"]


@dataclass(frozen=True)
class CharVocab:
    """Map single characters to integer ids and back.

    Attributes:
        itos: token strings by id: the three special tokens first, then the characters in
            sorted order.
    """

    itos: tuple[str, ...]
    _stoi: dict[str, int] = field(init=False, repr=False, compare=False)
    _lookup: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.itos[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(
                f"itos must start with the special tokens {SPECIAL_TOKENS}, "
                f"got {tuple(self.itos[: len(SPECIAL_TOKENS)])}"
            )
        chars = self.itos[len(SPECIAL_TOKENS) :]
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise ValueError(
                f"itos entries after the special tokens must be single characters, got {bad[:5]}"
            )
        if len(set(chars)) != len(chars):
            raise ValueError("itos contains a character twice")
        stoi = {s: i for i, s in enumerate(self.itos)}
        object.__setattr__(self, "_stoi", stoi)
        # A dense code-point -> id table makes encoding millions of characters a single numpy
        # gather instead of a Python loop; code points outside it map to [UNK].
        size = max((ord(c) for c in chars), default=0) + 1
        lookup = np.full(size, self.unk_id, dtype=np.int64)
        for c in chars:
            lookup[ord(c)] = stoi[c]
        object.__setattr__(self, "_lookup", lookup)

    @classmethod
    def from_text(cls, text: str | Iterable[str], *, min_count: int = 1) -> CharVocab:
        """Build the vocabulary from the characters of ``text``.

        Args:
            text: one string or an iterable of strings (e.g. the training split only, so that
                unseen validation characters become ``[UNK]`` honestly).
            min_count: characters seen fewer times than this map to ``[UNK]`` (>= 1).
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        if isinstance(text, str):
            counts.update(text)
        else:
            for piece in text:
                counts.update(piece)
        chars = sorted(c for c, n in counts.items() if n >= min_count)
        return cls(SPECIAL_TOKENS + tuple(chars))

    # -- sizes and special ids -------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of token ids (special tokens included)."""
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        """Id of ``[PAD]`` (always 0)."""
        return 0

    @property
    def mask_id(self) -> int:
        """Id of ``[MASK]`` (always 1)."""
        return 1

    @property
    def unk_id(self) -> int:
        """Id of ``[UNK]`` (always 2)."""
        return 2

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids of the special tokens, ``(pad_id, mask_id, unk_id)``."""
        return (0, 1, 2)

    def token_to_id(self, token: str) -> int:
        """Id of one character or special token; unknown characters give ``unk_id``."""
        return self._stoi.get(token, self.unk_id)

    # -- encode / decode -------------------------------------------------------------------
    def _encode_one(self, text: str) -> np.ndarray:
        if not text:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, self.unk_id, dtype=np.int64)
        inside = codes < len(self._lookup)
        ids[inside] = self._lookup[codes[inside]]
        return ids

    def encode(self, text: str | Sequence[str]) -> np.ndarray | list[np.ndarray]:
        """Encode characters to ids (int64).

        A string gives a 1-D array with one id per character; a list of strings gives a list
        of such arrays. Characters outside the vocabulary become ``unk_id``. Special-token
        strings such as ``"[MASK]"`` inside ``text`` are *not* parsed: they are five ordinary
        characters (use :attr:`mask_id` directly).
        """
        if isinstance(text, str):
            return self._encode_one(text)
        if not isinstance(text, Sequence):
            raise ValueError(f"text must be a str or a sequence of str, got {type(text).__name__}")
        return [self._encode_one(t) for t in text]

    def decode(self, ids: Iterable[int] | np.ndarray, *, skip_special: bool = False) -> str:
        """Turn ids back into a string.

        Args:
            ids: a 1-D sequence, array or tensor of ids in ``[0, vocab_size)``.
            skip_special: drop ``[PAD]``, ``[MASK]`` and ``[UNK]`` instead of writing them
                out as their bracketed names.
        """
        flat = np.asarray(ids.tolist() if hasattr(ids, "tolist") else list(ids), dtype=np.int64)
        if flat.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {flat.shape}")
        if flat.size and (flat.min() < 0 or flat.max() >= self.vocab_size):
            raise ValueError(
                f"ids must lie in [0, {self.vocab_size}), "
                f"got values in [{flat.min()}, {flat.max()}]"
            )
        n_special = len(SPECIAL_TOKENS)
        pieces = [self.itos[i] for i in flat.tolist() if not (skip_special and i < n_special)]
        return "".join(pieces)
