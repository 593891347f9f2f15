"""Real English text read at run time: WordNet 3.0's glosses and example sentences.

WordNet is installed, not copied into the repository: Debian's ``wordnet-base`` puts the database in
``/usr/share/wordnet``; in Colab ``nltk.download("wordnet")`` puts the same files in a zip under
``nltk_data/corpora``. ``$WORDNET_DIR`` names any other folder (or zip) holding ``data.noun`` etc.

Each line of a ``data.<pos>`` file is one synset::

    offset lexfile pos w_cnt word lex_id [word lex_id ...] p_cnt [pointers] [frames] | gloss

where the gloss is a definition followed by ``; "example sentences"`` in double quotes.
Reference: WordNet's wndb(5) manual page (Princeton University, WordNet 3.0).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

POS_FILES: dict[str, str] = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Adjective satellites ('s') live in data.adj beside head adjectives ('a').
POS_TAGS: tuple[str, ...] = ("n", "v", "a", "s", "r")

# The 45 lexicographer files, in WordNet's numbering (lexnames(5)).
LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)  # fmt: skip

_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Synset:
    """One WordNet sense: its lemmas, definition and example sentences."""

    offset: int
    pos: str  # 'n', 'v', 'a', 's' (adjective satellite) or 'r'
    lexname: str
    lemmas: tuple[str, ...]  # lower case, words separated by spaces
    gloss: str  # the definition, without examples
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SenseExample:
    """An example sentence that uses ``lemma`` in the sense of synset ``synset_offset``."""

    lemma: str
    pos: str
    synset_offset: int
    sentence: str
    gloss: str
    span: tuple[int, int]  # character span of the lemma's occurrence in ``sentence``


class CorpusNotAvailableError(RuntimeError):
    """WordNet's database files were not found."""


# --------------------------------------------------------------------------- locating the files


def _candidate_locations() -> list[Path]:
    places = []
    if os.environ.get("WORDNET_DIR"):
        places.append(Path(os.environ["WORDNET_DIR"]).expanduser())
    places.append(Path("/usr/share/wordnet"))
    try:  # Colab: nltk.download("wordnet") leaves corpora/wordnet.zip (or an unzipped folder)
        import nltk

        for root in nltk.data.path:
            places += [Path(root) / "corpora" / "wordnet", Path(root) / "corpora" / "wordnet.zip"]
    except ImportError:
        pass
    return places


def _read_data_file(location: Path, pos_file: str) -> str:
    name = f"data.{pos_file}"
    if location.is_dir():
        return (location / name).read_text(encoding="utf-8", errors="replace")
    with zipfile.ZipFile(location) as archive:
        member = next(m for m in archive.namelist() if m.endswith("/" + name) or m == name)
        return archive.read(member).decode("utf-8", errors="replace")


def wordnet_location() -> Path:
    """The folder (or zip) that holds WordNet's ``data.*`` files; a clear error if none does."""
    for place in _candidate_locations():
        if place.is_dir() and (place / "data.noun").exists():
            return place
        if place.is_file() and place.suffix == ".zip":
            return place
    raise CorpusNotAvailableError(
        "WordNet 3.0 was not found. Install it with `apt-get install wordnet-base` (Debian/Ubuntu; "
        "`make book` does this), or in Colab run `import nltk; nltk.download('wordnet')`, or set "
        "WORDNET_DIR to a folder holding data.noun, data.verb, data.adj and data.adv."
    )


# --------------------------------------------------------------------------- parsing


def parse_data_line(line: str) -> Synset | None:
    """Parse one line of a ``data.<pos>`` file; ``None`` for the licence header lines."""
    if not line or line.startswith("  "):
        return None
    fields_part, _, gloss_part = line.partition(" | ")
    fields = fields_part.split()
    if len(fields) < 4:
        raise ValueError(f"line is not a WordNet synset record: {line[:60]!r}")
    offset, lexfile, pos = int(fields[0]), int(fields[1]), fields[2]
    word_count = int(fields[3], 16)
    words = fields[4 : 4 + 2 * word_count : 2]
    lemmas = tuple(_ADJ_MARKER.sub("", w).replace("_", " ").lower() for w in words)
    examples = tuple(e.strip() for e in _QUOTED.findall(gloss_part) if e.strip())
    definition = gloss_part.split('"', 1)[0].strip().rstrip(";").strip()
    return Synset(
        offset=offset,
        pos=pos,
        lexname=LEXNAMES[lexfile] if lexfile < len(LEXNAMES) else str(lexfile),
        lemmas=lemmas,
        gloss=definition,
        examples=examples,
    )


def _normalise_pos(pos: str | Sequence[str] | None) -> tuple[str, ...]:
    wanted = POS_TAGS if pos is None else ((pos,) if isinstance(pos, str) else tuple(pos))
    bad = [p for p in wanted if p not in POS_TAGS]
    if bad:
        raise ValueError(f"pos must be drawn from {POS_TAGS}, got {bad}")
    return wanted


@lru_cache(maxsize=1)
def _all_synsets() -> tuple[Synset, ...]:
    location = wordnet_location()
    synsets: list[Synset] = []
    for pos_file in ("noun", "verb", "adj", "adv"):
        for line in _read_data_file(location, pos_file).splitlines():
            synset = parse_data_line(line)
            if synset is not None:
                synsets.append(synset)
    return tuple(synsets)


def wordnet_synsets(pos: str | Sequence[str] | None = None) -> list[Synset]:
    """Every synset of the given parts of speech, in file order (noun, verb, adj, adv)."""
    wanted = _normalise_pos(pos)
    return [s for s in _all_synsets() if s.pos in wanted]


def wordnet_text() -> str:
    """WordNet's glosses and example sentences as plain text, one per line, in file order.

    About 117,000 glosses and 48,000 examples: roughly 13 million characters of real English.
    """
    lines: list[str] = []
    for synset in _all_synsets():
        lines.append(synset.gloss)
        lines.extend(synset.examples)
    return "\n".join(line for line in lines if line) + "\n"


# --------------------------------------------------------------------------- words in context


def find_lemma(sentence: str, lemma: str) -> tuple[int, int] | None:
    """Character span of ``lemma`` or a regular inflection (-s, -es, -ed, -d, -ing) in ``sentence``.

    Matching is case-insensitive and on word boundaries, so "bank" matches "Banks" but not
    "embankment". Irregular forms ("ran" for "run") are not found.
    """
    if not lemma.strip():
        raise ValueError("lemma must be a non-empty word, got an empty string")
    pattern = r"\b" + re.escape(lemma) + r"(?:s|es|ed|d|ing)?\b"
    match = re.search(pattern, sentence, flags=re.IGNORECASE)
    return match.span() if match else None


def polysemous_examples(
    pos: str | Sequence[str] = ("n", "v"), min_senses: int = 2
) -> list[SenseExample]:
    """Example sentences that contain their lemma, for lemmas with ``min_senses``+ such senses.

    One item per (lemma, synset, sentence); sorted by part of speech, lemma, synset and
    sentence so the order never depends on anything but the WordNet files.
    """
    if min_senses < 1:
        raise ValueError(f"min_senses must be >= 1, got {min_senses}")
    by_word: dict[tuple[str, str], list[SenseExample]] = defaultdict(list)
    for synset in wordnet_synsets(pos):
        for lemma in synset.lemmas:
            for sentence in synset.examples:
                span = find_lemma(sentence, lemma)
                if span is not None:
                    item = SenseExample(
                        lemma, synset.pos, synset.offset, sentence, synset.gloss, span
                    )
                    by_word[(synset.pos, lemma)].append(item)
    items: list[SenseExample] = []
    for key in sorted(by_word):
        group = by_word[key]
        if len({item.synset_offset for item in group}) >= min_senses:
            items.extend(sorted(group, key=lambda e: (e.synset_offset, e.sentence)))
    return items


def lemmas_of(examples: Iterable[SenseExample]) -> list[str]:
    """The distinct lemmas of a list of examples, sorted (handy for splitting by lemma)."""
    return sorted({e.lemma for e in examples})
