"""support.corpora: WordNet's data-file format, parsed by hand and checked on the real files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support import corpora

NOUN_LINE = (
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02083346 n 0000 "
    "~ 01322604 n 0000 | a member of the genus Canis; "
    '"the dog barked all night"; "my dog sleeps"  '
)


def test_parse_a_synset_line() -> None:
    s = corpora.parse_data_line(NOUN_LINE)
    assert s is not None
    assert s.offset == 2084071 and s.pos == "n" and s.lexname == "noun.animal"
    assert s.lemmas == ("dog", "domestic dog", "canis familiaris")
    assert s.gloss == "a member of the genus Canis"
    assert s.examples == ("the dog barked all night", "my dog sleeps")


def test_adjective_markers_and_hex_word_counts() -> None:
    words = " ".join(f"w{i}(a) 0" for i in range(17))  # 17 words: count 11 in hex
    s = corpora.parse_data_line(f"00001740 00 a 11 {words} 000 | a gloss  ")
    assert s is not None and len(s.lemmas) == 17 and s.lemmas[0] == "w0"


def test_header_lines_are_skipped() -> None:
    assert corpora.parse_data_line("  1 This software and database is being provided") is None


def test_bad_record_and_bad_pos() -> None:
    with pytest.raises(ValueError, match="not a WordNet synset record"):
        corpora.parse_data_line("garbage")
    with pytest.raises(ValueError, match="pos must be drawn from"):
        corpora.wordnet_synsets("x")


def test_find_lemma_word_boundaries_and_inflections() -> None:
    assert corpora.find_lemma("The Banks were closed", "bank") == (4, 9)
    assert corpora.find_lemma("an embankment", "bank") is None
    assert corpora.find_lemma("she was running", "run") is None  # doubled consonant: not found
    assert corpora.find_lemma("he walked home", "walk") == (3, 9)
    with pytest.raises(ValueError, match="lemma"):
        corpora.find_lemma("text", " ")


@given(st.text(alphabet="abcdefgh ", min_size=1, max_size=40), st.sampled_from(["ab", "cd"]))
def test_found_span_is_the_lemma(sentence: str, lemma: str) -> None:
    span = corpora.find_lemma(sentence, lemma)
    if span is not None:
        assert sentence[span[0] : span[1]].lower().startswith(lemma)


def test_real_wordnet_counts() -> None:
    synsets = corpora.wordnet_synsets()
    assert len(synsets) == 117_659
    assert sum(1 for s in synsets if s.examples) == 32_923
    assert len(corpora.wordnet_synsets("n")) == 82_115


def test_polysemous_examples_are_deterministic_and_valid() -> None:
    items = corpora.polysemous_examples()
    assert items == corpora.polysemous_examples()
    nouns = {e.lemma for e in items if e.pos == "n"}
    assert len(nouns) == 1569
    for e in items[:500]:
        assert e.sentence[e.span[0] : e.span[1]].lower().startswith(e.lemma)
    with pytest.raises(ValueError, match="min_senses"):
        corpora.polysemous_examples(min_senses=0)


def test_text_is_large_real_english() -> None:
    text = corpora.wordnet_text()
    assert len(text) > 5_000_000 and "the dog barked all night" in text
