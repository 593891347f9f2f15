"""In-context learning, measured: synthetic tasks, prompt builders, a strict answer extractor.

Three layers, each usable alone:

1. **Tasks.** :func:`make_items` generates question/answer items deterministically from a seed,
   at any size and at a chosen difficulty, with a worked chain of thought for each item. The
   symbolic tasks follow Wei et al. 2022 (*Chain-of-Thought Prompting Elicits Reasoning in
   Large Language Models*): multi-digit addition, last-letter concatenation, coin flip; plus
   the n-th letter of a word and template sentiment. See :data:`TASKS`.
2. **Prompts.** :func:`build_messages` turns (instruction, worked examples, question) into
   chat messages; :func:`render_prompt` writes them as plain ``Q:/A:`` text (for base models)
   or through the tokenizer's chat template (for instruction-tuned models). ``style="direct"``
   shows bare answers in the examples, ``style="cot"`` shows the worked reasoning; the number
   of examples ``k`` makes it zero-shot (``k=0``) or few-shot.
3. **Scoring.** :func:`extract_answer` reads one answer out of free text *strictly*: an output
   that names two labels ("neutral... negative"), negates the label, or lists two numbers is
   unanswered, never counted correct by luck. :func:`run_condition` generates greedily (the
   same tokens as :func:`support.decoding.generate`, batched by :func:`greedy_generate_batch`),
   scores every item and records its cost (new tokens, seconds); :func:`summarize` adds
   percentile-bootstrap confidence intervals.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from support.plots import interval_error_y

if TYPE_CHECKING:  # imported lazily at run time: importing this module loads no model
    import pandas as pd

    from support.models import CausalLM

Style = Literal["direct", "cot"]
Form = Literal["plain", "chat"]
AnswerKind = Literal["integer", "label", "word"]
STYLES: tuple[str, ...] = ("direct", "cot")
FORMS: tuple[str, ...] = ("plain", "chat")

# The phrase every worked example ends with; the extractor looks for it first.
ANSWER_PHRASE = "So the answer is"


# =============================================================================== tasks


@dataclass(frozen=True)
class Item:
    """One task instance.

    ``reasoning`` is a worked chain of thought that does *not* yet state the answer; a CoT
    example is ``f"{reasoning} {ANSWER_PHRASE} {answer}."``.
    """

    task: str
    difficulty: int
    question: str
    answer: str
    reasoning: str


@dataclass(frozen=True)
class TaskSpec:
    """What a task asks, how its answer is read, and what its difficulty knob means."""

    name: str
    instruction: str  # one line shown to the model before any example
    answer_kind: AnswerKind
    difficulty_name: str  # what the knob counts, for axis labels
    difficulty_range: tuple[int, int]  # inclusive
    choices: tuple[str, ...] = ()  # the valid labels of a label task
    distractors: tuple[str, ...] = ()  # labels a model may say that are never correct

    @property
    def chance(self) -> float:
        """Accuracy of guessing uniformly among ``choices`` (0 for open-ended answers)."""
        return 1.0 / len(self.choices) if self.choices else 0.0


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "addition",
            "Add the two numbers.",
            "integer",
            "digits per number",
            (1, 6),
        ),
        TaskSpec(
            "last_letters",
            "Join the last letters of the words, in order, into one string.",
            "word",
            "words",
            (1, 6),
        ),
        TaskSpec(
            "coin_flip",
            "Answer yes or no: is the coin still heads up?",
            "label",
            "people",
            (1, 8),
            choices=("yes", "no"),
        ),
        TaskSpec(
            "nth_letter",
            "Name the requested letter of the word.",
            "word",
            "letter position",
            (1, 5),
        ),
        TaskSpec(
            "sentiment",
            "Classify the review as positive or negative.",
            "label",
            "twist (1 plain, 2 negated, 3 reversed)",
            (1, 3),
            choices=("positive", "negative"),
            distractors=("neutral", "mixed"),
        ),
    )
}

_PLACES = ("ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands")
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_NAMES = (
    "Maya", "Omar", "Lena", "Tariq", "Ines", "Kofi", "Sven", "Priya", "Diego", "Hana",
    "Ravi", "Zoe", "Amara", "Felix", "Yuki", "Nadia", "Bruno", "Leila", "Mateo", "Ingrid",
)  # fmt: skip
_POSITIVE = (
    "wonderful", "excellent", "delightful", "superb", "lovely",
    "fantastic", "pleasant", "charming", "brilliant", "great",
)  # fmt: skip
_NEGATIVE = (
    "awful", "terrible", "dreadful", "boring", "horrible",
    "disappointing", "bland", "miserable", "dull", "unpleasant",
)  # fmt: skip
_SUBJECTS = (
    "film", "meal", "concert", "hotel", "book", "service", "trip", "show", "game", "lecture",
)  # fmt: skip


def task_spec(task: str) -> TaskSpec:
    """The :class:`TaskSpec` of a task name (``ValueError`` naming the valid ones)."""
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}") from None


@lru_cache(maxsize=1)
def common_words() -> tuple[str, ...]:
    """Common English nouns for the letter tasks: 4-8 ASCII letters, read from WordNet 3.0.

    A noun lemma counts as common when it occurs at least 50 times in WordNet's own glosses
    and example sentences (a frequency proxy from real text; about 1,500 words). Sorted, so
    the list depends only on the WordNet files.
    """
    from collections import Counter

    from support.corpora import wordnet_synsets, wordnet_text

    counts = Counter(re.findall(r"[a-z]+", wordnet_text()))
    nouns = {
        lemma
        for synset in wordnet_synsets("n")
        for lemma in synset.lemmas
        if lemma.isascii() and lemma.isalpha() and 4 <= len(lemma) <= 8
    }
    return tuple(sorted(w for w in nouns if counts[w] >= 50))


# The worked reasoning is kept terse, in the spirit of Wei et al.'s short exemplars: every
# reasoning token a model imitates is a token it must generate, and CoT cost grows with it.


def _addition(rng: np.random.Generator, digits: int) -> Item:
    low = 0 if digits == 1 else 10 ** (digits - 1)
    a, b = (int(x) for x in rng.integers(low, 10**digits, size=2))
    steps, carry = [], 0
    for place in range(digits):
        da, db = (a // 10**place) % 10, (b // 10**place) % 10
        total = da + db + carry
        plus_carry = f"+{carry}" if carry else ""
        carry = total // 10
        note = ", carry 1" if carry else ""
        steps.append(f"{_PLACES[place].capitalize()} {da}+{db}{plus_carry}={total}{note}.")
    return Item("addition", digits, f"What is {a} + {b}?", str(a + b), " ".join(steps))


def _last_letters(rng: np.random.Generator, n_words: int, words: Sequence[str]) -> Item:
    chosen = [words[i] for i in rng.choice(len(words), size=n_words, replace=False)]
    answer = "".join(w[-1] for w in chosen)
    steps = ", ".join(f'"{w}" ends in "{w[-1]}"' for w in chosen)
    joined = f', together "{answer}".' if n_words > 1 else "."
    question = f'Join the last letters of the words in "{" ".join(chosen)}".'
    return Item("last_letters", n_words, question, answer, steps + joined)


def _coin_flip(rng: np.random.Generator, n_people: int, heads: bool) -> Item:
    people = [_NAMES[i] for i in rng.choice(len(_NAMES), size=n_people, replace=False)]
    flips = rng.integers(0, 2, size=n_people).astype(bool)
    # Fix the parity so that the answer is the requested one (balanced labels).
    if bool(flips.sum() % 2 == 0) != heads:
        flips[-1] = not flips[-1]
    sentences, steps, up = ["A coin is heads up."], ["Start: heads."], True
    for person, flip in zip(people, flips, strict=True):
        up = up != flip
        side = "heads" if up else "tails"
        if flip:
            sentences.append(f"{person} flips the coin.")
            steps.append(f"{person} flips: {side}.")
        else:
            sentences.append(f"{person} does not flip the coin.")
            steps.append(f"{person} does not: {side}.")
    question = " ".join(sentences) + " Is the coin still heads up?"
    return Item("coin_flip", n_people, question, "yes" if up else "no", " ".join(steps))


def _nth_letter(rng: np.random.Generator, position: int, words: Sequence[str]) -> Item:
    word = words[int(rng.integers(len(words)))]
    ordinal = _ORDINALS[position - 1]
    letter = word[position - 1]
    question = f'What is the {ordinal} letter of the word "{word}"?'
    reasoning = f'"{word}" is {"-".join(word)}; letter {position} is "{letter}".'
    return Item("nth_letter", position, question, letter, reasoning)


def _sentiment(rng: np.random.Generator, twist: int, positive: bool) -> Item:
    subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
    good = _POSITIVE[int(rng.integers(len(_POSITIVE)))]
    bad = _NEGATIVE[int(rng.integers(len(_NEGATIVE)))]
    label = "positive" if positive else "negative"
    verdict = "praise" if positive else "a complaint"
    if twist == 1:
        word = good if positive else bad
        review = f"The {subject} was {word}."
        reasoning = f'"{word}" is {verdict}.'
    elif twist == 2:
        word = bad if positive else good  # negating the opposite word gives the label
        review = f"The {subject} was not {word} at all."
        reasoning = f'"not {word}" is {verdict}.'
    else:
        first, last = (bad, good) if positive else (good, bad)
        review = f"At first the {subject} seemed {first}, but in the end it was {last}."
        reasoning = f'It ends on "{last}", {verdict}.'
    question = f'Review: "{review}" Is this review positive or negative?'
    return Item("sentiment", twist, question, label, reasoning)


def make_items(
    task: str,
    n: int,
    *,
    difficulty: int,
    seed: int = 0,
    words: Sequence[str] | None = None,
    exclude: Sequence[Item] = (),
) -> list[Item]:
    """Generate ``n`` distinct items of ``task`` at ``difficulty``, deterministically from ``seed``.

    Difficulty (see ``TASKS[task].difficulty_range``): digits per addend (``addition``), words
    to join (``last_letters``), people who may flip the coin (``coin_flip``), letter position
    (``nth_letter``), and for ``sentiment`` 1 = plain review, 2 = negated adjective,
    3 = opinion reversed at the end. Label tasks are balanced: answers alternate, then the
    list is shuffled, so always answering one label scores exactly chance for even ``n``.

    Args:
        task: one of :data:`TASKS`.
        n: number of items, >= 1.
        difficulty: an integer in the task's ``difficulty_range``.
        seed: seed of the generator; the same arguments always give the same items.
        words: vocabulary for the letter tasks (default :func:`common_words`, read from WordNet).
        exclude: items whose questions must not be generated (e.g. test items when drawing
            few-shot examples).

    Raises:
        ValueError: unknown task, ``n < 1``, difficulty out of range, a vocabulary too small
            or with non-alphabetic words, or when ``n`` distinct items cannot be found.
    """
    spec = task_spec(task)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    lo, hi = spec.difficulty_range
    if (
        isinstance(difficulty, bool)
        or not isinstance(difficulty, int)
        or not lo <= difficulty <= hi
    ):
        raise ValueError(
            f"difficulty for task {task!r} must be an integer in [{lo}, {hi}], got {difficulty!r}"
        )
    vocab: Sequence[str] = ()
    if task in ("last_letters", "nth_letter"):
        vocab = common_words() if words is None else tuple(words)
        bad = [w for w in vocab if not (w.isascii() and w.isalpha() and w.islower())]
        if bad:
            raise ValueError(f"words must be lower-case ASCII letters only, got e.g. {bad[:3]}")
        if task == "nth_letter":
            vocab = tuple(w for w in vocab if len(w) >= max(4, difficulty))
        if len(vocab) < max(2, difficulty):
            raise ValueError(
                f"words must hold at least {max(2, difficulty)} usable words for task {task!r} "
                f"at difficulty {difficulty}, got {len(vocab)}"
            )

    rng = np.random.default_rng([seed, sorted(TASKS).index(task), difficulty])
    seen = {item.question for item in exclude}
    items: list[Item] = []
    attempts = 0
    while len(items) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(
                f"n={n} distinct items of task {task!r} at difficulty {difficulty} could not be "
                f"generated; found {len(items)}"
            )
        want = len(items) % 2 == 0  # alternate labels for the balanced label tasks
        if task == "addition":
            item = _addition(rng, difficulty)
        elif task == "last_letters":
            item = _last_letters(rng, difficulty, vocab)
        elif task == "coin_flip":
            item = _coin_flip(rng, difficulty, heads=want)
        elif task == "nth_letter":
            item = _nth_letter(rng, difficulty, vocab)
        else:
            item = _sentiment(rng, difficulty, positive=want)
        if item.question not in seen:
            seen.add(item.question)
            items.append(item)
    if spec.choices:
        order = rng.permutation(n)
        items = [items[i] for i in order]
    return items


# =============================================================================== prompts


def worked_answer(item: Item, style: Style) -> str:
    """The answer text an example shows: bare (``direct``) or reasoning then answer (``cot``)."""
    _check_style(style)
    if style == "direct":
        return item.answer
    return f"{item.reasoning} {ANSWER_PHRASE} {item.answer}."


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def instruction_for(task: str, style: Style) -> str:
    """The task instruction plus a format request that matches the prompting style."""
    _check_style(style)
    spec = task_spec(task)
    if style == "direct":
        return f"{spec.instruction} Reply with the answer only."
    return f'{spec.instruction} Think step by step, then end with "{ANSWER_PHRASE} ...".'


def build_messages(item: Item, shots: Sequence[Item] = (), *, style: Style) -> list[dict[str, str]]:
    """Chat messages for one query: system instruction, a user/assistant turn per shot, question.

    ``len(shots)`` is *k*: ``k=0`` is zero-shot, ``style="cot"`` with ``k=0`` is zero-shot
    chain of thought (only the instruction asks for reasoning, as in Kojima et al. 2022).

    Raises:
        ValueError: unknown style, a shot of another task, or a shot equal to the query.
    """
    _check_style(style)
    for shot in shots:
        if shot.task != item.task:
            raise ValueError(f"shots must be of task {item.task!r}, got one of task {shot.task!r}")
        if shot.question == item.question:
            raise ValueError(f"shots must not contain the query itself: {item.question!r}")
    messages = [{"role": "system", "content": instruction_for(item.task, style)}]
    for shot in shots:
        messages.append({"role": "user", "content": shot.question})
        messages.append({"role": "assistant", "content": worked_answer(shot, style)})
    messages.append({"role": "user", "content": item.question})
    return messages


def render_prompt(messages: Sequence[dict[str, str]], *, form: Form, tokenizer: Any = None) -> str:
    """Write chat messages as one prompt string.

    ``form="plain"``: the system text, then ``Q: ...`` / ``A: ...`` blocks separated by blank
    lines, ending with ``A:`` for the model to continue (how a base model sees few-shot
    prompts in Brown et al. 2020). ``form="chat"``: ``tokenizer.apply_chat_template`` with the
    generation prompt appended (the format an instruction-tuned model was fine-tuned on).

    Raises:
        ValueError: unknown form, messages not in system/user/assistant order, or ``chat``
            without a tokenizer that has a chat template.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    roles = [m["role"] for m in messages]
    body = roles[1:] if roles[:1] == ["system"] else roles
    expected = ["user", "assistant"] * (len(body) // 2) + ["user"]
    if body != expected:
        raise ValueError(f"messages must be [system], (user, assistant)*, user; got roles {roles}")
    if form == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError("form='chat' needs a tokenizer with a chat template; use 'plain'")
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
    blocks = [messages[0]["content"]] if roles[0] == "system" else []
    turns = messages[1:] if roles[0] == "system" else messages
    for m in turns:
        if m["role"] == "user":
            blocks.append(f"Q: {m['content']}")
        else:  # the answer sits right under its question, in the same block
            blocks[-1] += f"\nA: {m['content']}"
    return "\n\n".join(blocks) + "\nA:"


def stop_strings_for(style: Style, form: Form) -> tuple[str, ...]:
    """Where a greedy continuation is cut: the end of the answer, before the model invents a next Q.

    A direct answer and a plain-text CoT answer are one paragraph (the examples show them so);
    a chat CoT answer may span paragraphs and ends at the end-of-turn token. (Not a single
    newline: a model that starts its reply with one would be cut before saying anything.)
    """
    _check_style(style)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if style == "direct" or form == "plain":
        return ("\nQ:", "\n\n")
    return ("\nQ:",)


def token_budget(tokenizer: Any, item: Item, style: Style, *, slack: float = 1.25) -> int:
    """``max_new_tokens`` for one item: room for the reference answer, in tokens.

    ``direct``: the answer's length plus 16 tokens of room for a sentence such as
    'The first letter of the word "candle" is "c".' (instruction-tuned models like to say so).
    ``cot``: ``slack`` times the reference reasoning-and-answer length plus 6, so a model that
    reasons as verbosely as the worked example is not cut off, while a rambling one is. In a
    batch every step costs as much as the longest row, so the budget sets the cost of CoT.
    """
    if slack < 1.0:
        raise ValueError(f"slack must be >= 1, got {slack}")
    n_ref = len(tokenizer(" " + worked_answer(item, style), add_special_tokens=False)["input_ids"])
    if style == "direct":
        return n_ref + 16
    return math.ceil(slack * n_ref) + 6


# =============================================================================== answers

_MARKER = re.compile(r"\banswer\s*(?:is|was|:)\s*:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")
_IS = re.compile(r"\b(?:is|are|was|equals|gives|give|makes|make)\b|=", re.IGNORECASE)
# A whole number, "1,234" allowed; not part of a word, a decimal or a longer digit run.
_INTEGER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?!\w|[.,]\d)")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")
_NEGATION = re.compile(r"\b(?:not|isn't|wasn't|no|never)\s+$", re.IGNORECASE)


def answer_span(text: str) -> str:
    """The part of a model's output that states its answer, as one sentence.

    After the first "answer is" / "answer:" when present (the CoT examples end so), else the
    first non-empty line; then cut at the end of that sentence. Markdown emphasis is removed.
    """
    clean = text.replace("*", "").replace("`", "").strip()
    marker = _MARKER.search(clean)
    if marker:
        clean = clean[marker.end() :]
    else:
        clean = next((line for line in clean.splitlines() if line.strip()), "")
    return _SENTENCE_END.split(clean.strip(), maxsplit=1)[0].strip()


def _after_last_copula(span: str) -> str | None:
    matches = list(_IS.finditer(span))
    return span[matches[-1].end() :].strip() if matches else None


def _integer_answer(span: str) -> str | None:
    for candidate in (span, _after_last_copula(span)):
        if candidate is None:
            continue
        found = {m.group().replace(",", "") for m in _INTEGER.finditer(candidate)}
        if len(found) == 1:
            return str(int(found.pop()))
    return None


def _label_answer(span: str, choices: Sequence[str], distractors: Sequence[str]) -> str | None:
    vocabulary = tuple(choices) + tuple(distractors)
    for candidate in (span, _after_last_copula(span)):
        if candidate is None:
            continue
        lower = candidate.lower()
        named, negated = set(), False
        for label in vocabulary:
            for m in re.finditer(rf"\b{re.escape(label)}\b", lower):
                named.add(label)
                negated |= bool(_NEGATION.search(lower[: m.start()])) and label not in ("no",)
        if len(named) == 1 and not negated:
            label = named.pop()
            return label if label in choices else None
        if len(named) > 1 or negated:
            continue  # two labels or "not positive": try the clause after the verb, else none
    return None


def _word_answer(span: str) -> str | None:
    words = _WORD.findall(span.lower())
    if len(words) == 1:
        return words[0]
    tail = _after_last_copula(span)
    if tail is not None:  # 'The first letter of "candle" is "c"': only what follows "is"
        words = _WORD.findall(tail.lower())
        return words[0] if len(words) == 1 else None
    quoted = [q.strip().lower() for q in _QUOTED.findall(span)]
    if len(quoted) == 1 and _WORD.fullmatch(quoted[0]):
        return quoted[0]
    return None


def extract_answer(
    text: str,
    kind: AnswerKind,
    *,
    choices: Sequence[str] = (),
    distractors: Sequence[str] = (),
) -> str | None:
    """Read one answer out of a model's output, or ``None`` when there is not exactly one.

    The span is found by :func:`answer_span`. Then, for each kind, the whole span is tried
    first and, if it is ambiguous, the clause after its last "is"/"="/"gives":

    - ``"integer"``: exactly one distinct integer (``1,234`` allowed) -> its digits.
    - ``"label"``: exactly one of ``choices`` + ``distractors`` is named, and not after a
      negation ("not positive") -> that label if it is a choice, else ``None``. So
      "neutral... negative" is ``None``, never "negative".
    - ``"word"``: exactly one alphabetic word, or exactly one quoted word -> it, lower-cased.

    Example:
        >>> extract_answer("23 + 58 = 81", "integer")
        '81'
        >>> extract_answer("neutral... negative", "label", choices=("positive", "negative"))
        >>> extract_answer('The first letter is "C".', "word")
        'c'
    """
    if kind == "integer":
        return _integer_answer(answer_span(text))
    if kind == "label":
        if not choices:
            raise ValueError("choices must name at least one label for kind='label'")
        return _label_answer(answer_span(text), [c.lower() for c in choices], distractors)
    if kind == "word":
        return _word_answer(answer_span(text))
    raise ValueError(f"kind must be one of ('integer', 'label', 'word'), got {kind!r}")


def score(item: Item, text: str) -> tuple[str | None, bool]:
    """``(extracted answer or None, whether it equals the item's answer)`` for one output."""
    spec = task_spec(item.task)
    got = extract_answer(text, spec.answer_kind, choices=spec.choices, distractors=spec.distractors)
    return got, got is not None and got == item.answer.lower()


# =============================================================================== batched decoding


def _encode(lm: CausalLM, prompt: str) -> list[int]:
    # As support.decoding.generate does: add the tokenizer's special tokens (Gemma's BOS)
    # unless a chat template already wrote the BOS text.
    bos = getattr(lm.tokenizer, "bos_token", None)
    add_special = not (bos and prompt.startswith(bos))
    return list(lm.tokenizer(prompt, add_special_tokens=add_special)["input_ids"])


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    shortest = min(len(r) for r in rows)
    for i in range(shortest):
        if any(r[i] != rows[0][i] for r in rows):
            return i
    return shortest


def greedy_generate_batch(
    lm: CausalLM,
    prompts: Sequence[str],
    *,
    max_new_tokens: int | Sequence[int],
    stop_strings: Sequence[str] = (),
    batch_size: int = 16,
) -> list[Any]:
    """Greedy continuations of many prompts at once: ``decoding.generate(greedy=True)``, batched.

    ``support.decoding.generate`` runs one prompt at a time, which is too slow on a CPU for the
    hundreds of prompts of a prompting experiment. Two savings, neither changing the result:

    1. The prompts of one condition share their instruction and worked examples, so the token
       prefix common to all of them is run through the model once and its key/value cache is
       copied to every row (the examples cost one prefill, not one per item).
    2. The rest (each question) is left-padded into a batch: padded slots are masked out of
       attention and position ids count only real tokens, so every row computes what it would
       alone; then all rows decode together, one token per step.

    Rows stop at an EOS token, at a stop string (the text is cut before it) or after their own
    ``max_new_tokens``; tokens in ``lm.suppress_token_ids`` are never emitted. Returns
    ``support.decoding.Generation`` objects in prompt order; their ``seconds`` is the batch's
    wall time divided by its rows plus a share of the prefix prefill, i.e. amortized seconds
    per item on this machine.
    """
    import time

    import torch

    from support.decoding import Generation

    n = len(prompts)
    if n == 0:
        return []
    limits = [max_new_tokens] * n if isinstance(max_new_tokens, int) else list(max_new_tokens)
    if len(limits) != n or any(isinstance(m, bool) or int(m) != m or m < 1 for m in limits):
        raise ValueError(
            f"max_new_tokens must be an integer >= 1 or one per prompt ({n} of them), "
            f"got {max_new_tokens!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(stop_strings, str) or any(not s for s in stop_strings):
        raise ValueError(
            f"stop_strings must be a sequence of non-empty strings, got {stop_strings!r}"
        )
    model, tok = lm.model, lm.tokenizer
    eos: set[int] = set()
    for value in (tok.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if value is not None:
            eos.update([value] if isinstance(value, int) else value)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(eos, default=0)
    suppress = torch.tensor(sorted(lm.suppress_token_ids), dtype=torch.long)
    encoded = [_encode(lm, p) for p in prompts]
    # Keep at least one token per prompt outside the shared prefix: its logits start decoding.
    prefix_len = min(_common_prefix_length(encoded), min(len(e) for e in encoded) - 1)
    results: list[Any] = [None] * n

    with torch.inference_mode():
        start = time.perf_counter()
        prefix_cache = None
        if prefix_len > 0:
            prefix = torch.tensor([encoded[0][:prefix_len]])
            prefix_cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache
        prefix_seconds = (time.perf_counter() - start) / n

        for lo in range(0, n, batch_size):
            rows = list(range(lo, min(lo + batch_size, n)))
            start = time.perf_counter()
            suffixes = [encoded[r][prefix_len:] for r in rows]
            width = max(len(x) for x in suffixes)
            ids = torch.tensor([[pad_id] * (width - len(x)) + x for x in suffixes])
            real = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes])
            mask = torch.cat([torch.ones(len(rows), prefix_len, dtype=torch.long), real], dim=1)
            positions = (prefix_len + real.cumsum(dim=1) - 1).clamp(min=0)
            cache = None
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)
                cache.batch_repeat_interleave(len(rows))
            new_ids: list[list[int]] = [[] for _ in rows]
            logprobs: list[list[float]] = [[] for _ in rows]
            stopped: list[str | None] = [None] * len(rows)
            for step in range(max(limits[r] for r in rows)):
                out = model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=positions,
                    cache=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                cache = out.cache
                logits = out.logits[:, -1, :].float()
                logp = torch.log_softmax(logits, dim=-1)  # the unmodified distribution
                if suppress.numel():
                    logits = logits.index_fill(-1, suppress, float("-inf"))
                nxt = logits.argmax(dim=-1)
                for i, r in enumerate(rows):
                    if stopped[i] is not None:
                        continue
                    token = int(nxt[i])
                    new_ids[i].append(token)
                    logprobs[i].append(float(logp[i, token]))
                    if token in eos:
                        stopped[i] = "eos"
                    elif (
                        stop_strings
                        and _first_stop_index(
                            tok.decode(new_ids[i], skip_special_tokens=True), stop_strings
                        )
                        >= 0
                    ):
                        stopped[i] = "stop_string"
                    elif step + 1 >= limits[r]:
                        stopped[i] = "max_new_tokens"
                if all(s is not None for s in stopped):
                    break
                ids = nxt[:, None]
                mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long)], dim=1)
                positions = positions[:, -1:] + 1
            seconds = (time.perf_counter() - start) / len(rows) + prefix_seconds
            for i, r in enumerate(rows):
                body = new_ids[i][:-1] if stopped[i] == "eos" else new_ids[i]
                text = tok.decode(body, skip_special_tokens=True)
                if stopped[i] == "stop_string":
                    text = text[: _first_stop_index(text, stop_strings)]
                results[r] = Generation(
                    prompt_ids=list(encoded[r]),
                    token_ids=list(new_ids[i]),
                    text=text,
                    logprobs=logprobs[i],
                    stopped_by=stopped[i] or "max_new_tokens",
                    seconds=seconds,
                )
    return results


def _first_stop_index(text: str, stop_strings: Sequence[str]) -> int:
    found = [i for i in (text.find(s) for s in stop_strings) if i >= 0]
    return min(found) if found else -1


# =============================================================================== experiments


@dataclass(frozen=True)
class Trial:
    """One scored generation, with its cost."""

    model: str
    task: str
    difficulty: int
    style: str
    k: int  # number of worked examples in the prompt
    form: str
    order: int  # which permutation of the examples (0 = as drawn)
    question: str
    answer: str
    output: str
    prediction: str | None
    correct: bool
    prompt_tokens: int
    new_tokens: int
    stopped_by: str
    seconds: float


def draw_shots(
    task: str, k: int, *, difficulty: int, seed: int, exclude: Sequence[Item] = ()
) -> list[Item]:
    """``k`` worked examples for a prompt, from a seed stream disjoint from the test items'.

    For label tasks the examples cycle through the labels (yes, no, yes, ...), so a prompt never
    shows one label only (Zhao et al. 2021 show such majority-label bias).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    if k == 0:
        return []
    # A label task's pool is balanced, so 2k + 2 items hold k of every label.
    pool = make_items(task, 2 * k + 2, difficulty=difficulty, seed=seed + 7919, exclude=exclude)
    choices = task_spec(task).choices
    if not choices:
        return pool[:k]
    by_label = {c: [it for it in pool if it.answer == c] for c in choices}
    return [by_label[choices[i % len(choices)]][i // len(choices)] for i in range(k)]


def prompting_name(style: Style, k: int) -> str:
    """A reader's name for a prompting method: zero-shot, few-shot, zero-shot CoT, few-shot CoT."""
    _check_style(style)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    shots = "zero-shot" if k == 0 else "few-shot"
    return shots if style == "direct" else f"{shots} CoT"


def ordered_shots(shots: Sequence[Item], order: int) -> list[Item]:
    """The examples in permutation number ``order`` (0 = as given, else a seeded shuffle)."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be an integer >= 0, got {order!r}")
    if order == 0:
        return list(shots)
    return [shots[i] for i in np.random.default_rng(order).permutation(len(shots))]


def run_condition(
    lm: CausalLM,
    items: Sequence[Item],
    shots: Sequence[Item] = (),
    *,
    style: Style,
    form: Form | None = None,
    order: int = 0,
    batch_size: int = 32,
    generate_fn: Callable[..., Any] | None = None,
) -> list[Trial]:
    """Prompt ``lm`` with every item (same shots, greedy decoding) and score each output.

    ``form`` defaults to ``"chat"`` for a model with a chat template and ``"plain"`` otherwise.
    ``order > 0`` permutes the shots with seed ``order`` (for prompt-sensitivity runs).
    Generation is :func:`greedy_generate_batch` (``batch_size`` prompts at a time); pass
    ``generate_fn=support.decoding.generate`` to run one prompt at a time instead (same tokens,
    slower; tests pass a fake). Cost per item: ``new_tokens`` (tokens generated, a final
    EOS/stop token included) and ``seconds`` (wall time per item, prompt prefill included).
    """
    _check_style(style)
    if form is None:
        form = "chat" if lm.has_chat_template else "plain"
    ordered = ordered_shots(shots, order)
    stops = stop_strings_for(style, form)
    prompts = [
        render_prompt(build_messages(item, ordered, style=style), form=form, tokenizer=lm.tokenizer)
        for item in items
    ]
    budgets = [token_budget(lm.tokenizer, item, style) for item in items]
    if generate_fn is None:
        gens = greedy_generate_batch(
            lm, prompts, max_new_tokens=budgets, stop_strings=stops, batch_size=batch_size
        )
    else:
        gens = [
            generate_fn(lm, p, max_new_tokens=b, greedy=True, stop_strings=stops)
            for p, b in zip(prompts, budgets, strict=True)
        ]
    trials = []
    for item, gen in zip(items, gens, strict=True):
        prediction, correct = score(item, gen.text)
        trials.append(
            Trial(
                model=lm.name,
                task=item.task,
                difficulty=item.difficulty,
                style=style,
                k=len(ordered),
                form=form,
                order=order,
                question=item.question,
                answer=item.answer,
                output=gen.text,
                prediction=prediction,
                correct=correct,
                prompt_tokens=len(gen.prompt_ids),
                new_tokens=len(gen.token_ids),
                stopped_by=gen.stopped_by,
                seconds=gen.seconds,
            )
        )
    return trials


def trials_frame(trials: Sequence[Trial]) -> pd.DataFrame:
    """All trials as a ``pandas.DataFrame``, one row per generation, plus a ``prompting`` column
    naming the method (:func:`prompting_name`)."""
    import pandas as pd

    frame = pd.DataFrame([asdict(t) for t in trials])
    if len(frame):
        frame["prompting"] = [prompting_name(t.style, t.k) for t in trials]  # type: ignore[arg-type]
    return frame


def summarize(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Accuracy with a percentile-bootstrap interval, answer rate and cost, per group.

    Columns: the ``by`` keys, ``n`` (items), ``accuracy``, ``ci_low``, ``ci_high`` (fractions
    of items correct), ``answered`` (fraction whose output yielded an answer at all),
    ``tokens`` (mean new tokens per item), ``seconds`` (mean wall seconds per item),
    ``truncated`` (fraction that hit ``max_new_tokens``).
    """
    import pandas as pd

    from support.stats import bootstrap_ci

    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise ValueError(f"by must name columns of the frame, got unknown {missing}")
    rows = []
    for keys, group in frame.groupby(list(by), sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        acc, low, high = bootstrap_ci(
            group["correct"].to_numpy(dtype=float),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "n": len(group),
                "accuracy": acc,
                "ci_low": low,
                "ci_high": high,
                "answered": float(group["prediction"].notna().mean()),
                "tokens": float(group["new_tokens"].mean()),
                "seconds": float(group["seconds"].mean()),
                "truncated": float((group["stopped_by"] == "max_new_tokens").mean()),
            }
        )
    return pd.DataFrame(rows)


def count_wins(table: pd.DataFrame, better: str, worse: str, *, by: Sequence[str]) -> int:
    """In how many ``by`` groups method ``better`` beats ``worse`` with disjoint intervals.

    ``table`` is a :func:`summarize` result with a ``prompting`` column; a group counts when
    ``better``'s ``ci_low`` is above ``worse``'s ``ci_high`` (a conservative test: overlapping
    95% intervals can still hide a real difference, disjoint ones rarely do by chance).
    """
    for method in (better, worse):
        if method not in set(table["prompting"]):
            raise ValueError(f"{method!r} must be one of the table's methods, got none such")
    low = table.pivot_table(index=list(by), columns="prompting", values="ci_low")
    high = table.pivot_table(index=list(by), columns="prompting", values="ci_high")
    return int((low[better] > high[worse]).sum())


def recency_table(frame: pd.DataFrame, shots: Sequence[Item], *, seed: int = 0) -> pd.DataFrame:
    """Accuracy per example order, with the last example's label and how often it is repeated.

    ``frame`` holds trials of one task run with the same ``shots`` in several orders
    (``run_condition(..., order=o)``). Adds ``last_label`` (the answer of the last example in
    that order), ``says_last_label`` (fraction of items whose prediction equals it: about 0.5
    on balanced items for a model without recency bias, Zhao et al. 2021) and, for a label
    task, ``says_<first label>`` (e.g. ``says_positive``: 0.5 without label bias).
    """
    if not shots:
        raise ValueError("shots must hold at least one example, got none")
    first = task_spec(shots[0].task).choices[:1]
    data = frame.assign(last_label=[ordered_shots(shots, o)[-1].answer for o in frame["order"]])
    data["says_last_label"] = data["prediction"] == data["last_label"]
    aggregations = {
        "last_label": ("last_label", "first"),
        "says_last_label": ("says_last_label", "mean"),
    }
    for label in first:  # label bias: how often the first label is said at all
        data[f"says_{label}"] = data["prediction"] == label
        aggregations[f"says_{label}"] = (f"says_{label}", "mean")
    table = summarize(data, by=["model", "order"], seed=seed)
    extra = data.groupby(["model", "order"], sort=False).agg(**aggregations).reset_index()
    return table.merge(extra, on=["model", "order"])


def error_bars(rows: pd.DataFrame) -> dict[str, Any]:
    """Plotly ``error_y`` for a :func:`summarize` table: asymmetric bootstrap intervals."""
    return interval_error_y(
        list(zip(rows["accuracy"], rows["ci_low"], rows["ci_high"], strict=True))
    )
