"""Tests for support.prompting: task generators, prompt builders, answer extraction, scoring."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.prompting import (
    ANSWER_PHRASE,
    TASKS,
    Item,
    answer_span,
    build_messages,
    draw_shots,
    extract_answer,
    instruction_for,
    make_items,
    render_prompt,
    run_condition,
    score,
    stop_strings_for,
    summarize,
    token_budget,
    trials_frame,
    worked_answer,
)

WORDS = (
    "river", "candle", "stone", "apple", "garden", "window", "pepper", "moon", "tiger", "lamp",
    "basket", "violin", "meadow", "anchor", "bridge", "cactus", "dolphin", "feather", "harbor",
    "island", "jacket", "kettle", "ladder", "marble", "needle", "orange", "pillow", "rocket",
)  # fmt: skip


def items_of(task: str, n: int = 20, difficulty: int = 2, seed: int = 0) -> list[Item]:
    return make_items(task, n, difficulty=difficulty, seed=seed, words=WORDS)


# ----------------------------------------------------------------------------- generators


@pytest.mark.parametrize("task", sorted(TASKS))
def test_generators_are_deterministic_distinct_and_seeded(task: str) -> None:
    a = items_of(task, seed=3)
    assert a == items_of(task, seed=3)
    assert a != items_of(task, seed=4)
    assert len({it.question for it in a}) == len(a) == 20
    assert all(it.task == task and it.difficulty == 2 for it in a)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_difficulty_in_range_generates(task: str) -> None:
    lo, hi = TASKS[task].difficulty_range
    for d in range(lo, hi + 1):
        (item,) = make_items(task, 1, difficulty=d, seed=0, words=WORDS)
        assert item.answer and item.question and item.reasoning


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_addition_answers_are_the_sum(digits: int, seed: int) -> None:
    for item in make_items("addition", 3, difficulty=digits, seed=seed):
        a, b = map(int, re.fullmatch(r"What is (\d+) \+ (\d+)\?", item.question).groups())
        assert int(item.answer) == a + b
        assert len(str(a)) == len(str(b)) == digits or digits == 1
        # the worked reasoning has one step per column, and it states no answer yet
        assert item.reasoning.count("=") == digits
        assert ANSWER_PHRASE not in item.reasoning


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_last_letters_answer_matches_words(n_words: int, seed: int) -> None:
    for item in make_items("last_letters", 2, difficulty=n_words, seed=seed, words=WORDS):
        words = re.search(r'"([a-z ]+)"', item.question).group(1).split()
        assert len(words) == n_words
        assert item.answer == "".join(w[-1] for w in words)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(0, 10_000))
def test_coin_flip_answer_is_parity_of_flips(n_people: int, seed: int) -> None:
    for item in make_items("coin_flip", 4, difficulty=n_people, seed=seed):
        flips = len(re.findall(r"\w+ flips the coin\.", item.question))
        holds = len(re.findall(r"does not flip", item.question))
        assert flips + holds == n_people
        assert item.answer == ("yes" if flips % 2 == 0 else "no")


def test_nth_letter_answer_and_word_lengths() -> None:
    for position in range(1, 6):
        for item in items_of("nth_letter", 8, difficulty=position):
            word = re.search(r'"([a-z]+)"', item.question).group(1)
            assert len(word) >= max(4, position)
            assert item.answer == word[position - 1]


def test_sentiment_twists_flip_the_label_as_described() -> None:
    for item in items_of("sentiment", 10, difficulty=2):
        assert " not " in item.question
    for item in items_of("sentiment", 10, difficulty=3):
        assert "in the end" in item.question
    assert {it.answer for it in items_of("sentiment", 10, difficulty=1)} == {
        "positive",
        "negative",
    }


@pytest.mark.parametrize("task", ["coin_flip", "sentiment"])
def test_label_tasks_are_balanced(task: str) -> None:
    for d in (1, 2, 3):
        answers = [it.answer for it in make_items(task, 20, difficulty=d, seed=1)]
        assert answers.count(TASKS[task].choices[0]) == 10


def test_exclude_keeps_items_out() -> None:
    test = items_of("addition", 10, difficulty=1)
    more = make_items("addition", 10, difficulty=1, seed=0, exclude=test)
    assert not {i.question for i in test} & {i.question for i in more}


def test_common_words_come_from_wordnet() -> None:
    from support.prompting import common_words

    words = common_words()
    assert 500 < len(words) < 5000
    assert list(words) == sorted(words)
    assert all(w.isalpha() and w.islower() and 4 <= len(w) <= 8 for w in words)
    assert {"water", "house", "music"} <= set(words)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "poetry", "n": 1, "difficulty": 1}, "task must be one of"),
        ({"task": "addition", "n": 0, "difficulty": 1}, "n must be"),
        ({"task": "addition", "n": 1, "difficulty": 7}, r"difficulty .* \[1, 6\]"),
        ({"task": "sentiment", "n": 1, "difficulty": 0}, r"\[1, 3\]"),
        ({"task": "nth_letter", "n": 1, "difficulty": 1, "words": ["Ab1"]}, "lower-case"),
        ({"task": "last_letters", "n": 1, "difficulty": 3, "words": ["ab", "cd"]}, "at least 3"),
        ({"task": "coin_flip", "n": 41, "difficulty": 1}, "distinct items"),
    ],
)
def test_make_items_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    task, n = kwargs.pop("task"), kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        make_items(task, n, **kwargs)


# ----------------------------------------------------------------------------- prompts


def test_draw_shots_disjoint_and_alternating_labels() -> None:
    test = items_of("sentiment", 20, difficulty=1)
    shots = draw_shots("sentiment", 4, difficulty=1, seed=0, exclude=test)
    assert [s.answer for s in shots] == ["positive", "negative", "positive", "negative"]
    assert not {s.question for s in shots} & {t.question for t in test}
    assert draw_shots("addition", 0, difficulty=1, seed=0) == []
    with pytest.raises(ValueError, match="k must be"):
        draw_shots("addition", -1, difficulty=1, seed=0)


def test_plain_prompt_layout_few_shot_cot() -> None:
    item, *shots = items_of("addition", 3, difficulty=2)
    prompt = render_prompt(build_messages(item, shots, style="cot"), form="plain")
    blocks = prompt.split("\n\n")
    assert blocks[0] == instruction_for("addition", "cot")
    assert blocks[1] == f"Q: {shots[0].question}\nA: {worked_answer(shots[0], 'cot')}"
    assert blocks[-1] == f"Q: {item.question}\nA:"
    assert len(blocks) == 4
    assert worked_answer(shots[0], "cot").endswith(f"{ANSWER_PHRASE} {shots[0].answer}.")


def test_zero_shot_direct_is_instruction_and_question() -> None:
    (item,) = items_of("sentiment", 1)
    prompt = render_prompt(build_messages(item, style="direct"), form="plain")
    assert prompt == f"{instruction_for('sentiment', 'direct')}\n\nQ: {item.question}\nA:"


class FakeChatTokenizer:
    """Renders ChatML like SmolLM2's template, to test the chat path without a model."""

    chat_template = "chatml"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def test_chat_prompt_has_one_turn_per_shot() -> None:
    item, *shots = items_of("coin_flip", 3)
    messages = build_messages(item, shots, style="direct")
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[2]["content"] == shots[0].answer
    prompt = render_prompt(messages, form="chat", tokenizer=FakeChatTokenizer())
    assert prompt.endswith("<|im_start|>assistant\n")
    assert prompt.count("<|im_start|>user") == 3


def test_prompt_builders_reject_bad_input() -> None:
    item, shot = items_of("addition", 2)
    other = items_of("sentiment", 1)[0]
    with pytest.raises(ValueError, match="style must be"):
        build_messages(item, style="socratic")
    with pytest.raises(ValueError, match="task 'addition'"):
        build_messages(item, [other], style="direct")
    with pytest.raises(ValueError, match="query itself"):
        build_messages(item, [item], style="direct")
    messages = build_messages(item, [shot], style="direct")
    with pytest.raises(ValueError, match="form must be"):
        render_prompt(messages, form="html")
    with pytest.raises(ValueError, match="chat template"):
        render_prompt(messages, form="chat", tokenizer=None)
    with pytest.raises(ValueError, match="roles"):
        render_prompt(messages[:2] + messages[3:], form="plain")


def test_stop_strings_never_cut_a_leading_newline() -> None:
    for style in ("direct", "cot"):
        for form in ("plain", "chat"):
            assert "\n" not in stop_strings_for(style, form)
            assert "\nQ:" in stop_strings_for(style, form)


class WhitespaceTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}


def test_token_budget_direct_and_cot() -> None:
    (item,) = items_of("addition", 1, difficulty=2)
    tok = WhitespaceTokenizer()
    n_cot = len(worked_answer(item, "cot").split())
    assert token_budget(tok, item, "direct") == 1 + 16
    assert token_budget(tok, item, "cot") == -(-5 * n_cot // 4) + 6
    with pytest.raises(ValueError, match="slack"):
        token_budget(tok, item, "cot", slack=0.5)


# ----------------------------------------------------------------------------- extraction

SENT = {"choices": ("positive", "negative"), "distractors": ("neutral", "mixed")}
YESNO = {"choices": ("yes", "no")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 81", "81"),
        ("81.", "81"),
        ("The sum is 81.", "81"),
        ("23 + 58 = 81", "81"),
        ("23 + 58 = 81. Next question", "81"),
        ("1,234", "1234"),
        ("Ones: 3 + 8 = 11, write 1. So the answer is 81.", "81"),
        ("**Answer:** 81", "81"),
        ("81 or 82", None),
        ("It is 8.5", None),
        ("To add 23 and 58 we need to", None),
        ("", None),
        ("\n\n 81\n", "81"),
    ],
)
def test_extract_integer(text: str, expected: str | None) -> None:
    assert extract_answer(text, "integer") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("negative", "negative"),
        (" Negative.", "negative"),
        ("The review is positive, as it praises the film", "positive"),
        ("neutral… negative", None),
        ("neutral... negative", None),
        ("Neutral", None),
        ("positive or negative", None),
        ("The review is not positive", None),
        ("Some would call it positive, but the review is negative", "negative"),
        ("So the answer is positive.", "positive"),
        ('"The film was great."', None),
        ("positively", None),
    ],
)
def test_extract_label_is_strict(text: str, expected: str | None) -> None:
    assert extract_answer(text, "label", **SENT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "yes"),
        ("No, the coin is tails up.", "no"),
        ("Yes, the coin is still heads up.", "yes"),
        ("The coin is still heads up.", None),
        ("yes or no", None),
        ("... So the answer is no.", "no"),
    ],
)
def test_extract_yes_no(text: str, expected: str | None) -> None:
    assert extract_answer(text, "label", **YESNO) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t", "t"),
        (" T", "t"),
        ('"c"', "c"),
        ("'c'", "c"),
        ('The first letter of the word "candle" is "c".', "c"),
        ('The first letter of the word "tropics" is "', None),
        ('The first letter of the word "aquatic" is "A', "a"),
        ('Together they make "ree". So the answer is ree.', "ree"),
        ('"r" + "e" + "e" = "ree"', "ree"),
        ("r, e, e", None),
        ("ree", "ree"),
    ],
)
def test_extract_word(text: str, expected: str | None) -> None:
    assert extract_answer(text, "word") == expected


def test_extract_answer_rejects_bad_kind_and_missing_choices() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        extract_answer("1", "float")
    with pytest.raises(ValueError, match="choices"):
        extract_answer("yes", "label")


def test_answer_span_prefers_the_answer_phrase() -> None:
    assert answer_span("Step one. Step two. So the answer is 12. Q: next") == "12"
    assert answer_span("\n\nfirst line\nsecond") == "first line"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_reference_answers_score_correct_in_every_style(task: str) -> None:
    # The worked examples the prompts show must themselves be read back as correct.
    for item in items_of(task, 10, difficulty=2):
        for style in ("direct", "cot"):
            assert score(item, worked_answer(item, style)) == (item.answer, True)


# ----------------------------------------------------------------------------- running


@dataclass
class FakeGeneration:
    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    stopped_by: str
    seconds: float


def test_run_condition_and_summarize_with_a_fake_model() -> None:
    items = items_of("sentiment", 6, difficulty=1)
    lm = SimpleNamespace(name="fake", has_chat_template=False, tokenizer=WhitespaceTokenizer())
    prompts = []

    def fake_generate(lm, prompt, *, max_new_tokens, greedy, stop_strings):
        prompts.append(prompt)
        assert greedy and max_new_tokens > 0 and stop_strings
        return FakeGeneration([0] * 10, [1, 2], " positive", "stop_string", 0.5)

    shots = draw_shots("sentiment", 2, difficulty=1, seed=0, exclude=items)
    trials = run_condition(lm, items, shots, style="direct", generate_fn=fake_generate)
    assert len(trials) == 6 and trials[0].form == "plain" and trials[0].k == 2
    assert sum(t.correct for t in trials) == 3  # balanced labels, constant answer
    reordered = run_condition(lm, items, shots, style="direct", order=5, generate_fn=fake_generate)
    assert reordered[0].order == 5
    table = summarize(trials_frame(trials + reordered), by=["order"])
    assert list(table["n"]) == [6, 6]
    assert table["accuracy"].tolist() == [0.5, 0.5]
    assert (table["ci_low"] <= 0.5).all() and (table["ci_high"] >= 0.5).all()
    assert table["answered"].tolist() == [1.0, 1.0]
    assert table["tokens"].tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="by must name"):
        summarize(trials_frame(trials), by=["colour"])
    with pytest.raises(ValueError, match="order must be"):
        run_condition(lm, items, style="direct", order=-1, generate_fn=fake_generate)


def test_prompting_name_and_ordered_shots() -> None:
    from support.prompting import ordered_shots, prompting_name

    assert prompting_name("direct", 0) == "zero-shot"
    assert prompting_name("direct", 3) == "few-shot"
    assert prompting_name("cot", 0) == "zero-shot CoT"
    assert prompting_name("cot", 2) == "few-shot CoT"
    with pytest.raises(ValueError, match="k must be"):
        prompting_name("direct", -1)
    shots = items_of("addition", 5)
    assert ordered_shots(shots, 0) == shots
    permuted = ordered_shots(shots, 3)
    assert permuted == ordered_shots(shots, 3) and sorted(map(id, permuted)) == sorted(
        map(id, shots)
    )
    with pytest.raises(ValueError, match="order must be"):
        ordered_shots(shots, -2)


def test_count_wins_uses_disjoint_intervals() -> None:
    import pandas as pd

    from support.prompting import count_wins

    table = pd.DataFrame(
        {
            "task": ["a", "a", "b", "b"],
            "prompting": ["few-shot", "zero-shot"] * 2,
            "ci_low": [0.6, 0.1, 0.4, 0.3],
            "ci_high": [0.9, 0.5, 0.7, 0.6],
        }
    )
    assert count_wins(table, "few-shot", "zero-shot", by=["task"]) == 1  # b overlaps
    assert count_wins(table, "zero-shot", "few-shot", by=["task"]) == 0
    with pytest.raises(ValueError, match="methods"):
        count_wins(table, "few-shot CoT", "zero-shot", by=["task"])


def test_recency_table_counts_last_label_repeats() -> None:
    from support.prompting import ordered_shots, recency_table

    items = items_of("sentiment", 4, difficulty=1)
    shots = draw_shots("sentiment", 3, difficulty=1, seed=0, exclude=items)
    lm = SimpleNamespace(name="fake", has_chat_template=False, tokenizer=WhitespaceTokenizer())

    def always_positive(lm, prompt, *, max_new_tokens, greedy, stop_strings):
        return FakeGeneration([0], [1], "positive", "eos", 0.1)

    trials = []
    for order in range(4):
        trials += run_condition(lm, items, shots, style="direct", order=order,
                                generate_fn=always_positive)  # fmt: skip
    table = recency_table(trials_frame(trials), shots)
    for _, row in table.iterrows():
        last = ordered_shots(shots, int(row["order"]))[-1].answer
        assert row["last_label"] == last
        assert row["says_last_label"] == (1.0 if last == "positive" else 0.0)
        assert row["says_positive"] == 1.0
        assert row["accuracy"] == 0.5
    with pytest.raises(ValueError, match="shots"):
        recency_table(trials_frame(trials), [])


def test_error_bars_are_distances_to_the_bounds() -> None:
    import pandas as pd

    from support.prompting import error_bars

    bars = error_bars(pd.DataFrame({"accuracy": [0.5], "ci_low": [0.3], "ci_high": [0.9]}))
    assert bars["array"] == pytest.approx([0.4])
    assert bars["arrayminus"] == pytest.approx([0.2])


def test_greedy_generate_batch_validates_arguments() -> None:
    from support.prompting import greedy_generate_batch

    lm = SimpleNamespace()
    assert greedy_generate_batch(lm, [], max_new_tokens=3) == []
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_generate_batch(lm, ["a", "b"], max_new_tokens=[3])
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_generate_batch(lm, ["a"], max_new_tokens=0)
    with pytest.raises(ValueError, match="batch_size"):
        greedy_generate_batch(lm, ["a"], max_new_tokens=2, batch_size=0)
    with pytest.raises(ValueError, match="stop_strings"):
        greedy_generate_batch(lm, ["a"], max_new_tokens=2, stop_strings="\n")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma-3-270m"])
def test_batched_greedy_matches_one_prompt_at_a_time(name: str) -> None:
    """The batched, prefix-shared decoder must give exactly decoding.generate's tokens."""
    from support.decoding import generate
    from support.models import load_causal_lm
    from support.prompting import greedy_generate_batch

    lm = load_causal_lm(name)
    items = make_items("coin_flip", 4, difficulty=2, seed=1)
    shots = draw_shots("coin_flip", 2, difficulty=2, seed=1, exclude=items)
    form = "chat" if lm.has_chat_template else "plain"
    prompts = [
        render_prompt(build_messages(it, shots, style="cot"), form=form, tokenizer=lm.tokenizer)
        for it in items
    ]
    # different lengths and budgets in one batch, and a batch split (batch_size=3)
    prompts.append("The capital of France is")
    budgets = [12, 20, 6, 16, 8]
    stops = ("\n\n",)
    batched = greedy_generate_batch(
        lm, prompts, max_new_tokens=budgets, stop_strings=stops, batch_size=3
    )
    for prompt, budget, got in zip(prompts, budgets, batched, strict=True):
        want = generate(lm, prompt, max_new_tokens=budget, greedy=True, stop_strings=stops)
        assert got.token_ids == want.token_ids
        assert got.text == want.text
        assert got.stopped_by == want.stopped_by
        assert got.prompt_ids == want.prompt_ids
        assert got.logprobs == pytest.approx(want.logprobs, abs=1e-3)
