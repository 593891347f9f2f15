# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # In-context learning: zero-shot, few-shot and chain-of-thought, measured
#
# A pretrained language model can be taught a task without changing a single weight: put a
# description, or a few worked examples, in front of the question and let the model continue
# the text. This is **in-context learning**. This chapter measures it on two small offline
# models, on tasks generated in code so that every answer is known: how much do examples help,
# does showing worked reasoning (**chain of thought**) help, how fragile is the result to the
# order of the examples, and what does each prompting style cost in generated tokens and seconds.
# The finding at this scale is the one the literature predicts and a textbook rarely shows:
# examples mostly teach these small models the answer *format*, and chain of thought helps only
# where each step is a single easy association, never on the multi-step tasks where it helps
# large models.

# %% tags=["hide-cell"]
# Colab setup: installs this book's `support` package. Does nothing outside Colab.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "llm-book-support @ git+https://github.com/executable-llm-book/llm-book"],
        check=True,
    )  # fmt: skip

# %% tags=["parameters"]
QUICK = True  # CI runs QUICK: fewer items and difficulty levels, the same code path
# Short names of the offline models; in Colab add hub ids to extend the scale axis, e.g.
# "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct",
# "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct".
MODELS = ["smollm2-135m-instruct", "gemma-3-270m"]
SEED = 0
N_ITEMS = 20 if QUICK else 100  # test items per (task, difficulty)
K_SHOTS = 3  # worked examples in the few-shot prompts
# Difficulty levels per task (see the task table below for what each knob counts).
GRID = (
    {"sentiment": [1, 2], "nth_letter": [1, 3], "coin_flip": [2], "addition": [1, 2],
     "last_letters": [2]}
    if QUICK
    else {"sentiment": [1, 2, 3], "nth_letter": [1, 2, 3, 5], "coin_flip": [1, 2, 4, 6],
          "addition": [1, 2, 3, 4], "last_letters": [1, 2, 3, 4]}
)  # fmt: skip
SHOT_COUNTS = [0, 1, 2, 4, 8]  # for the accuracy-vs-shots curve
SHOT_TASKS = [("sentiment", 1), ("nth_letter", 1)]
N_ORDERS = 6 if QUICK else 24  # permutations of the examples in the sensitivity study
ORDER_TASK = ("sentiment", 1)
ORDER_SHOTS = 4

# %%
import time

import pandas as pd
import plotly.graph_objects as go
from IPython.display import display

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support.models import load_causal_lm
from support.plots import slider_figure
from support.prompting import (
    TASKS,
    build_messages,
    count_wins,
    draw_shots,
    error_bars,
    extract_answer,
    make_items,
    recency_table,
    render_prompt,
    run_condition,
    summarize,
    trials_frame,
)
from support.report import glue

pd.set_option("display.width", 120)
models = {name: load_causal_lm(name) for name in MODELS}
params = {name: sum(p.numel() for p in lm.model.parameters()) for name, lm in models.items()}
for name, lm in models.items():
    kind = "chat template" if lm.has_chat_template else "no chat template (base model)"
    print(f"{name}: {params[name] / 1e6:.0f}M parameters, {kind}")

# %% [markdown]
# ## What in-context learning is
#
# A causal language model defines $p(y \mid c)$, the probability of a continuation $y$ given a
# context $c$. In-context learning puts the *training data of a task* into $c$: with $k$
# demonstrations $(x_1, y_1), \dots, (x_k, y_k)$ and a query $x$, the model's answer is
#
# $$ \hat y = \arg\max_y \; p\big(y \mid \text{instruction}, x_1, y_1, \dots, x_k, y_k, x\big), $$
#
# computed by the same forward pass as any other text, with frozen weights. Brown et al. (2020,
# *Language Models are Few-Shot Learners*) named the three regimes: **zero-shot** ($k=0$, only
# an instruction), **one-shot** and **few-shot** ($k$ of a handful). Nothing is learned in the
# sense of gradient descent; the demonstrations change the *conditioning*, which tells the model
# which task this text is, which label words are in play and what format the answer takes.
#
# **Chain-of-thought (CoT) prompting** (Wei et al. 2022, *Chain-of-Thought Prompting Elicits
# Reasoning in Large Language Models*) changes the demonstrations $y_i$: instead of the bare
# answer they show worked reasoning that ends in the answer, so the model writes intermediate
# steps before committing. Each generated step becomes context for the next token, which gives
# the model more serial computation per answer. Kojima et al. (2022) showed a *zero-shot* variant
# ("Let's think step by step").
#
# Why is it called **emergent**? Wei et al. (2022, *Emergent Abilities of Large Language
# Models*) plotted few-shot accuracy against model size and found tasks where it stays at chance
# for small models and then rises sharply past some scale: an ability not predictable by
# extrapolating the small models. For CoT they report the gains only from about $10^{11}$
# parameters (LaMDA and PaLM); below that, CoT was neutral or *harmful*, because small models
# write fluent but wrong reasoning and then copy its wrong conclusion. Schaeffer et al. (2023,
# *Are Emergent Abilities of Large Language Models a Mirage?*) add a caution: part of the
# sharpness comes from all-or-nothing metrics such as exact match, which hide steady
# improvement in partial correctness. Our metric is exact match too.
#
# Our two models have $10^8$ parameters, three orders of magnitude below the CoT threshold. The
# point of this chapter is to measure honestly what happens there.
#
# ## The tasks
#
# Every task is generated from a seed, so any number of items exists and no item comes from a
# public benchmark that a model could have memorised. The symbolic tasks are those of Wei et
# al.: **addition**, **last-letter concatenation** and **coin flip** (track the coin's state
# through a list of people who flip it or not); we add the **n-th letter** of a word (words
# read from WordNet) and template **sentiment** reviews. Each has a difficulty knob, and label
# tasks are balanced, so always
# answering one label scores exactly chance.

# %%
rows = []
for task, spec in TASKS.items():
    lo, hi = spec.difficulty_range
    for d in sorted({lo, hi}):
        item = make_items(task, 1, difficulty=d, seed=SEED)[0]
        rows.append((task, spec.difficulty_name, d, item.question, item.answer))
display(pd.DataFrame(rows, columns=["task", "difficulty knob", "level", "question", "answer"]))

# %% [markdown]
# The same item as a zero-shot, a few-shot and a few-shot CoT prompt, in the plain `Q:`/`A:`
# form a base model continues (the chat form wraps the same messages in the model's chat
# template: the instruction as the system turn, each example as a user/assistant exchange):

# %%
demo_items = make_items("coin_flip", 1, difficulty=2, seed=SEED)
demo_shots = draw_shots("coin_flip", 2, difficulty=2, seed=SEED, exclude=demo_items)
demo_tokens = {}
for label, style, shots in [
    ("zero-shot", "direct", []),
    ("few-shot", "direct", demo_shots),
    ("few-shot CoT", "cot", demo_shots),
]:
    prompt = render_prompt(build_messages(demo_items[0], shots, style=style), form="plain")
    demo_tokens[label] = len(models[MODELS[0]].tokenizer(prompt)["input_ids"])
    print(f"----- {label} ({demo_tokens[label]} tokens for {MODELS[0]}) -----\n{prompt}\n")
glue("demo_tokens_zero", demo_tokens["zero-shot"])
glue("demo_tokens_few", demo_tokens["few-shot"])
glue("demo_tokens_cot", demo_tokens["few-shot CoT"])

# %% [markdown]
# ```{admonition} Exercise
# For the coin-flip item above, compare the three prompts. (a) What does the model have to
# infer from each prompt to produce a correct, *scorable* answer? (b) Which prompt gives the
# model the most computation before it commits to "yes" or "no", and why? (c) A model that
# ignores the question and always says "yes" scores what accuracy on our balanced items?
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# (a) Zero-shot: only the instruction says what to do; the model must infer the output format
# ("yes"/"no" only) from one sentence, and must track the coin internally in one forward pass
# per answer token. Few-shot: the two examples additionally show the format and that both labels
# occur; the model still has to do the parity computation silently. Few-shot CoT: the examples
# show a procedure (state after each person), so the model only needs to apply one easy step
# at a time and copy the final state into "So the answer is ...".
# (b) CoT: every reasoning token is another forward pass whose output is fed back in, so the
# computation available grows with the length of the reasoning; the direct answer gets one
# pass. That extra computation is only useful if each step is right, which is what small models
# fail at. It also costs tokens: the prompts here are {glue:text}`demo_tokens_zero`,
# {glue:text}`demo_tokens_few` and {glue:text}`demo_tokens_cot` tokens long, before any
# generated reasoning. (c) 50%: exactly half the items are "yes". This is the chance line that
# the coin-flip and sentiment accuracies below must beat.
# ```
#
# ## Reading the answer: strict extraction
#
# A model's output is free text, and the score depends on how it is read. Our extractor
# (`support.prompting.extract_answer`) takes the text after "the answer is" when present, else
# the first line, and accepts it only if it names **exactly one** answer: "neutral... negative"
# names two labels and counts as no answer, not as "negative"; "not positive" is no answer;
# "23 + 58 = 81" is read after the last "=". Lenient matching (is the right label somewhere in
# the text?) would credit a model that lists every label. We also record the **answered** rate,
# which separates "wrong" from "did not give an answer in the requested form".

# %%
sentiment = TASKS["sentiment"]
for text in [
    " Negative.",
    "neutral... negative",
    "The review is not positive",
    "Some would call it positive, but the review is negative",
    "Let me think. So the answer is positive.",
]:
    found = extract_answer(
        text, "label", choices=sentiment.choices, distractors=sentiment.distractors
    )
    print(f"{text!r:<60} -> {found!r}")
for text in [" 81", "23 + 58 = 81", "The sum is 81.", "81 or 82", "To add 23 and 58 we"]:
    print(f"{text!r:<60} -> {extract_answer(text, 'integer')!r}")

# %% [markdown]
# ## Zero-shot, few-shot and CoT across tasks and difficulty
#
# For every model, task and difficulty level: {glue:text}`n_items` test items, three prompting
# methods (zero-shot, few-shot with {glue:text}`k_shots` examples, few-shot CoT with the same
# examples worked out), greedy decoding. The instruction-tuned SmolLM2 gets its chat template;
# the base Gemma 3 gets plain text. Intervals are 95% percentile-bootstrap intervals over items.

# %%
glue("n_items", N_ITEMS)
glue("k_shots", K_SHOTS)
METHODS = [  # (name, style of the answers shown, number of examples)
    ("zero-shot", "direct", 0),
    ("few-shot", "direct", K_SHOTS),
    ("few-shot CoT", "cot", K_SHOTS),
]

runs = {}  # (model, task, level, method) -> list of scored trials
started = time.perf_counter()
for name, lm in models.items():
    for task, levels in GRID.items():
        for d in levels:
            items = make_items(task, N_ITEMS, difficulty=d, seed=SEED)
            shots = draw_shots(task, K_SHOTS, difficulty=d, seed=SEED, exclude=items)
            for method, style, k in METHODS:
                runs[name, task, d, method] = run_condition(lm, items, shots[:k], style=style)
    print(f"{name}: done after {time.perf_counter() - started:.0f} s")
grid = trials_frame([t for run in runs.values() for t in run])
table = summarize(grid, by=["model", "task", "difficulty", "prompting"], seed=SEED)
display(table.round(2).drop(columns=["seconds"]))

# %%
method_order = [m for m, _, _ in METHODS]
colours = dict(zip(method_order, ["#7f7f7f", "#1f77b4", "#d62728"], strict=True))


def bars_for(model: str) -> list[go.Bar]:
    """Grouped bars (one group per task and level) with bootstrap error bars for one model."""
    part = table[table["model"] == model]
    traces = []
    for method in method_order:
        rows = part[part["prompting"] == method]
        x = [f"{t} ({d})" for t, d in zip(rows["task"], rows["difficulty"], strict=True)]
        traces.append(
            go.Bar(
                name=method,
                x=x,
                y=rows["accuracy"],
                marker_color=colours[method],
                error_y=error_bars(rows),
            )
        )
    return traces


fig = slider_figure(
    [bars_for(name) for name in MODELS],
    labels=list(MODELS),
    titles=[f"{name}: accuracy by prompting method (95% bootstrap CI)" for name in MODELS],
    slider_prefix="model: ",
    layout={
        "barmode": "group",
        "xaxis_title": "task (difficulty level)",
        "yaxis_title": "accuracy (fraction of items exactly right)",
        "yaxis_range": [0, 1.05],
        "height": 520,
    },
)
fig.add_hline(y=0.5, line_dash="dot", annotation_text="chance for yes/no and sentiment")
fig.show()

# %% [markdown]
# Move the slider to switch model. The dotted line is chance for the two label tasks (coin
# flip, sentiment); for the open-ended tasks chance is essentially zero.


# %%
def key(model: str) -> str:
    """A glue-safe version of a model name."""
    return model.replace("/", "_").replace(".", "_")


def accuracy_of(model: str, task: str, level: int) -> dict[str, float]:
    """Accuracy per prompting method for one cell of the grid."""
    where = (table["model"] == model) & (table["task"] == task) & (table["difficulty"] == level)
    cell = table[where]
    return dict(zip(cell["prompting"], cell["accuracy"], strict=True))


cells = ["model", "task", "difficulty"]
glue("n_cells", len(table.groupby(cells)))
glue("few_beats_zero", count_wins(table, "few-shot", "zero-shot", by=cells))
glue("zero_beats_few", count_wins(table, "zero-shot", "few-shot", by=cells))
glue("cot_beats_few", count_wins(table, "few-shot CoT", "few-shot", by=cells))
glue("few_beats_cot", count_wins(table, "few-shot", "few-shot CoT", by=cells))
multi_step = table["task"].isin(["addition", "last_letters"]) & (table["difficulty"] >= 2)
glue("hard_best", float(table[multi_step]["accuracy"].max()))
coin = table[table["task"] == "coin_flip"]
glue("coin_cells", len(coin))
glue("coin_at_chance", int(((coin["ci_low"] <= 0.5) & (coin["ci_high"] >= 0.5)).sum()))
short = {"zero-shot": "zero", "few-shot": "few", "few-shot CoT": "cot"}
for name in MODELS:
    for task in ("sentiment", "nth_letter", "addition"):
        for method, acc in accuracy_of(name, task, 1).items():
            glue(f"{task}_{short[method]}_{key(name)}", acc)
    zero = table[(table["model"] == name) & (table["prompting"] == "zero-shot")]
    glue(f"answered_zero_{key(name)}", float(zero["answered"].mean()))
    zero_sentiment = zero[(zero["task"] == "sentiment") & (zero["difficulty"] == 1)]
    glue(f"sentiment_answered_zero_{key(name)}", float(zero_sentiment["answered"].iloc[0]))
table.pivot_table(index=cells, columns="prompting", values="accuracy")[method_order].round(2)

# %% [markdown]
# Reading the grid ({glue:text}`n_cells` model-task-level cells; "beats" means that the two 95%
# intervals do not overlap).
#
# **Examples teach the format.** Few-shot beat zero-shot in {glue:text}`few_beats_zero` cells
# and lost to it in {glue:text}`zero_beats_few`. The clearest gains are on the base model, which
# without examples does not know it is being asked a question: Gemma 3 often continues the
# review or restates the question instead of answering (its zero-shot answered rate over the
# grid is {glue:text}`answered_zero_gemma-3-270m:.2f`). Three examples take its sentiment
# accuracy from {glue:text}`sentiment_zero_gemma-3-270m:.2f` to
# {glue:text}`sentiment_few_gemma-3-270m:.2f` and its first-letter accuracy from
# {glue:text}`nth_letter_zero_gemma-3-270m:.2f` to {glue:text}`nth_letter_few_gemma-3-270m:.2f`.
# SmolLM2 was instruction-tuned to answer questions, so it answers more often without examples
# (zero-shot answered rate {glue:text}`answered_zero_smollm2-135m-instruct:.2f`) and names first
# letters without them ({glue:text}`nth_letter_zero_smollm2-135m-instruct:.2f` zero-shot,
# {glue:text}`nth_letter_few_smollm2-135m-instruct:.2f` few-shot); on sentiment the examples
# still help it ({glue:text}`sentiment_zero_smollm2-135m-instruct:.2f` to
# {glue:text}`sentiment_few_smollm2-135m-instruct:.2f`): zero-shot it often hedges between
# labels (see the outputs below), and the strict extractor finds a single label in only
# {glue:text}`sentiment_answered_zero_smollm2-135m-instruct:.2f` of its answers.
#
# **Examples can also hurt, because small models copy.** On one-digit addition, zero-shot
# Gemma 3 tends to write the whole equation out before the sum (see the outputs below) and
# scores {glue:text}`addition_zero_gemma-3-270m:.2f`. Shown three bare answers it must emit the
# number at once, and it often emits a number from the examples instead:
# {glue:text}`addition_few_gemma-3-270m:.2f`. With worked examples the copying moves into the
# reasoning (it repeats an example's sum and carry under a different question):
# {glue:text}`addition_cot_gemma-3-270m:.2f`. For a model this size a demonstration is both a
# description of the task and a source of tokens to copy; copying earlier tokens is one of the
# first in-context mechanisms transformers learn (Olsson et al. 2022, *In-context Learning and
# Induction Heads*).
#
# **Chain of thought helps only where each step is one easy association.** CoT beat direct
# few-shot in {glue:text}`cot_beats_few` cells and lost to it in {glue:text}`few_beats_cot`. Where
# it wins, the worked step is a single lookup that moves the answer closer to the label: the
# rationale '"not dull" is praise' turns the review into a word that sits next to "positive";
# "Ones 8+4=12" is one addition fact (SmolLM2 goes from
# {glue:text}`addition_few_smollm2-135m-instruct:.2f` to
# {glue:text}`addition_cot_smollm2-135m-instruct:.2f` on one-digit sums). Where the direct answer
# was already right, writing reasoning first can cost a little (SmolLM2 on first letters:
# {glue:text}`nth_letter_few_smollm2-135m-instruct:.2f` direct,
# {glue:text}`nth_letter_cot_smollm2-135m-instruct:.2f` with CoT). On the **multi-step**
# tasks that Wei et al. used to show CoT's power, nothing works: on two-digit addition and
# two-word last-letter concatenation no method on either model scores above
# {glue:text}`hard_best:.2f`, and on the coin flip {glue:text}`coin_at_chance` of
# {glue:text}`coin_cells` model-method cells have intervals that contain chance (0.5). The models
# reproduce the *shape* of the worked steps and get the steps wrong. This is the small-model
# side of the emergence curve, not a bug in the prompts: the worked examples are correct, and
# the extractor reads every one of them back as correct (a unit test checks it).
#
# The same items, as answered by each model and method:


# %%
def show_item(task: str, level: int) -> None:
    """Print every model's and method's output for the first test item of one grid cell."""
    rows = grid[(grid["task"] == task) & (grid["difficulty"] == level)]
    question = rows["question"].iloc[0]
    print(f"{question}  (expected {rows['answer'].iloc[0]!r})")
    for _, r in rows[rows["question"] == question].iterrows():
        verdict = "right" if r["correct"] else "wrong" if r["prediction"] else "no answer"
        print(f"  {r['model']:<22} {r['prompting']:<13} {verdict:<9} {r['output'][:90]!r}")
    print()


show_item("addition", 1)
show_item("addition", max(GRID["addition"]))
show_item("sentiment", max(GRID["sentiment"]))

# %% [markdown]
# ## How many examples?
#
# Accuracy as the number of demonstrations $k$ grows, direct answers, on the two tasks where
# the format matters most. Each point is {glue:text}`n_items` items; the shaded band is the
# 95% bootstrap interval. The examples for smaller $k$ are a prefix of those for larger $k$, so
# the curve adds examples rather than swapping them; the $k=0$ points are the zero-shot runs
# of the grid above.

# %%
shot_trials = []
for name, lm in models.items():
    for task, d in SHOT_TASKS:
        items = make_items(task, N_ITEMS, difficulty=d, seed=SEED)
        shots = draw_shots(task, max(SHOT_COUNTS), difficulty=d, seed=SEED, exclude=items)
        for k in SHOT_COUNTS:
            if k == 0 and (name, task, d, "zero-shot") in runs:  # same items, same prompt
                shot_trials += runs[name, task, d, "zero-shot"]
            else:
                shot_trials += run_condition(lm, items, shots[:k], style="direct")
shot_table = summarize(trials_frame(shot_trials), by=["model", "task", "k"], seed=SEED)
for (name, task), part in shot_table.groupby(["model", "task"], sort=False):
    acc = dict(zip(part["k"], part["accuracy"], strict=True))
    for k in (0, 1, max(SHOT_COUNTS)):
        glue(f"shots_{task}_{k}_{key(name)}", acc[k])

fig = go.Figure()
for (name, task), part in shot_table.groupby(["model", "task"], sort=False):
    label = f"{name}, {task}"
    fig.add_trace(go.Scatter(x=part["k"], y=part["accuracy"], mode="lines+markers", name=label))
    fig.add_trace(
        go.Scatter(
            x=list(part["k"]) + list(part["k"])[::-1],
            y=list(part["ci_high"]) + list(part["ci_low"])[::-1],
            fill="toself",
            opacity=0.15,
            line={"width": 0},
            showlegend=False,
            hoverinfo="skip",
            name=label,
        )
    )
fig.update_layout(
    title="Accuracy vs number of in-context examples (direct answers, 95% bootstrap CI)",
    xaxis_title="number of examples k in the prompt",
    yaxis_title="accuracy (fraction of items exactly right)",
    yaxis_range=[0, 1.05],
    height=480,
)
fig.show()

# %% [markdown]
# On first letters, one example does all the work for Gemma 3
# ({glue:text}`shots_nth_letter_0_gemma-3-270m:.2f` with none,
# {glue:text}`shots_nth_letter_1_gemma-3-270m:.2f` with one,
# {glue:text}`shots_nth_letter_8_gemma-3-270m:.2f` with eight): the task is easy once the format
# is shown. On sentiment one example is not enough
# ({glue:text}`shots_sentiment_0_gemma-3-270m:.2f`, {glue:text}`shots_sentiment_1_gemma-3-270m:.2f`,
# {glue:text}`shots_sentiment_8_gemma-3-270m:.2f`): a single example shows only one of the two
# label words, and the label set and its balance take more examples. The instruction-tuned
# SmolLM2 need not improve at all: its first-letter accuracy goes
# {glue:text}`shots_nth_letter_0_smollm2-135m-instruct:.2f`,
# {glue:text}`shots_nth_letter_1_smollm2-135m-instruct:.2f`,
# {glue:text}`shots_nth_letter_8_smollm2-135m-instruct:.2f` and its sentiment accuracy
# {glue:text}`shots_sentiment_0_smollm2-135m-instruct:.2f`,
# {glue:text}`shots_sentiment_1_smollm2-135m-instruct:.2f`,
# {glue:text}`shots_sentiment_8_smollm2-135m-instruct:.2f`. Compare the last number with the
# {glue:text}`sentiment_few_smollm2-135m-instruct:.2f` that *other* examples (the grid's three)
# gave it: which examples are shown matters as much as how many. Nothing like the smooth gains
# of GPT-3's few-shot curves appears at this scale.
#
# ## Sensitivity to the order of the examples
#
# The same {glue:text}`order_shots` examples, the same test items, only the order of the
# examples permuted ({glue:text}`n_orders` permutations). Zhao et al. (2021, *Calibrate Before
# Use*) showed that few-shot accuracy can swing from near chance to near state of the art with
# the choice and order of examples, through a **majority-label bias** (the model favours the
# label most frequent among the examples) and a **recency bias** (it favours the label of the
# last example). Our examples are balanced, so only the order can push the model.

# %%
glue("order_shots", ORDER_SHOTS)
glue("n_orders", N_ORDERS)
order_trials = []
task, d = ORDER_TASK
items = make_items(task, N_ITEMS, difficulty=d, seed=SEED)
shots = draw_shots(task, ORDER_SHOTS, difficulty=d, seed=SEED, exclude=items)
for lm in models.values():
    for order in range(N_ORDERS):
        order_trials += run_condition(lm, items, shots, style="direct", order=order)
order_table = recency_table(trials_frame(order_trials), shots, seed=SEED)
columns = ["model", "order", "last_label", "accuracy", "ci_low", "ci_high", "says_last_label"]
display(order_table[[*columns, "says_positive"]].round(2))

fig = go.Figure()
for name, part in order_table.groupby("model", sort=False):
    fig.add_trace(
        go.Scatter(
            x=part["order"],
            y=part["accuracy"],
            mode="markers",
            name=name,
            marker={"size": 10},
            error_y=error_bars(part),
        )
    )
fig.update_layout(
    title=f"Same {ORDER_SHOTS} examples, different order: {task} (level {d}), direct answers",
    xaxis_title="permutation of the examples (0 = as drawn)",
    yaxis_title="accuracy (fraction of items exactly right)",
    yaxis_range=[0, 1.05],
    height=440,
)
fig.show()
for name, part in order_table.groupby("model", sort=False):
    glue(f"order_spread_{key(name)}", float(part["accuracy"].max() - part["accuracy"].min()))
    glue(f"order_low_{key(name)}", float(part["accuracy"].min()))
    glue(f"order_high_{key(name)}", float(part["accuracy"].max()))
    glue(f"positive_low_{key(name)}", float(part["says_positive"].min()))
    glue(f"positive_high_{key(name)}", float(part["says_positive"].max()))
    glue(f"says_last_{key(name)}", float(part["says_last_label"].mean()))

# %% [markdown]
# Each dot is one ordering of the same examples. Nothing but the order changed, yet accuracy
# ranges from {glue:text}`order_low_gemma-3-270m:.2f` to {glue:text}`order_high_gemma-3-270m:.2f`
# for Gemma 3 and from {glue:text}`order_low_smollm2-135m-instruct:.2f` to
# {glue:text}`order_high_smollm2-135m-instruct:.2f` for SmolLM2. The mechanism is a label bias
# that the order sets: the share of "positive" answers (the test items are half positive) moves
# between {glue:text}`positive_low_gemma-3-270m:.2f` and
# {glue:text}`positive_high_gemma-3-270m:.2f` for Gemma 3 and between
# {glue:text}`positive_low_smollm2-135m-instruct:.2f` and
# {glue:text}`positive_high_smollm2-135m-instruct:.2f` for SmolLM2. It is not simply "repeat the
# last label": averaged over orderings, the answers equal the last example's label
# {glue:text}`says_last_gemma-3-270m:.2f` (Gemma 3) and
# {glue:text}`says_last_smollm2-135m-instruct:.2f` (SmolLM2) of the time, where 0.5 would be no
# net recency bias; the table shows which way each ordering pushes. The *choice* of examples
# matters in the same way (draw others by changing `SEED`): a prompt is a hyperparameter, and
# one prompt's accuracy is a sample of one.
#
# ## What each prompting style costs
#
# Tokens generated per item and seconds per item (batched greedy decoding on this machine's
# CPU, the examples' shared prefix computed once per batch), averaged over the grid above.

# %%
cost = (
    grid.groupby(["model", "prompting"], sort=False)
    .agg(
        prompt_tokens=("prompt_tokens", "mean"),
        new_tokens=("new_tokens", "mean"),
        seconds=("seconds", "mean"),
        accuracy=("correct", "mean"),
    )
    .reset_index()
)
display(cost.round(3))
fig = go.Figure()
for method in method_order:
    part = cost[cost["prompting"] == method]
    fig.add_trace(
        go.Bar(name=method, x=part["model"], y=part["new_tokens"], marker_color=colours[method])
    )
fig.update_layout(
    barmode="group",
    title="Generated tokens per item by prompting method (mean over all tasks and levels)",
    xaxis_title="model",
    yaxis_title="new tokens per item (tokens)",
    height=420,
)
fig.show()
per_method = cost.groupby("prompting")[["new_tokens", "seconds"]].mean()
tokens, seconds = per_method["new_tokens"], per_method["seconds"]
glue("cot_tokens", float(tokens["few-shot CoT"]))
glue("few_tokens", float(tokens["few-shot"]))
glue("zero_tokens", float(tokens["zero-shot"]))
glue("cot_token_ratio", float(tokens["few-shot CoT"] / tokens["few-shot"]))
glue("cot_time_ratio", float(seconds["few-shot CoT"] / seconds["few-shot"]))

# %% [markdown]
# CoT generates {glue:text}`cot_tokens:.1f` tokens per item against {glue:text}`few_tokens:.1f`
# for direct few-shot answers ({glue:text}`cot_token_ratio:.1f` times as many) and takes
# {glue:text}`cot_time_ratio:.1f` times as long per item. Zero-shot answers cost
# {glue:text}`zero_tokens:.1f` tokens: without examples the models explain themselves in a full
# sentence (or ramble until the token budget), so the cheapest prompt is not the cheapest
# answer. Per item, the worked examples also make the CoT prompt the longest one to read. On a
# large model that cost buys accuracy on multi-step problems; here it buys accuracy only on the
# one-step tasks, where a direct answer with examples was already cheap.
#
# ## Where CoT starts to pay off
#
# Our scale axis has two points. The figure puts every model's accuracy per method against its
# parameter count, one task and level per slider step. Both offline models sit at the far left
# of the emergence plots of Wei et al., where on the multi-step tasks every method's line lies
# near zero (or at chance, for the coin flip).

# %%
by_size = table.copy()
by_size["parameters"] = by_size["model"].map(params)
steps, labels, titles = [], [], []
for task, level in [(t, d) for t, levels in GRID.items() for d in levels]:
    part = by_size[(by_size["task"] == task) & (by_size["difficulty"] == level)]
    part = part.sort_values("parameters")
    traces = [
        go.Scatter(
            x=part[part["prompting"] == m]["parameters"],
            y=part[part["prompting"] == m]["accuracy"],
            mode="lines+markers",
            name=m,
            marker_color=colours[m],
            text=part[part["prompting"] == m]["model"],
            hovertemplate="%{text}: %{y:.2f}<extra>" + m + "</extra>",
        )
        for m in method_order
    ]
    steps.append(traces)
    labels.append(f"{task} ({level})")
    titles.append(f"{task}, level {level}: accuracy vs model size")
fig = slider_figure(
    steps,
    labels,
    titles,
    slider_prefix="task (level): ",
    layout={
        "xaxis_type": "log",
        "xaxis_title": "model parameters (log scale)",
        "yaxis_title": "accuracy (fraction of items exactly right)",
        "yaxis_range": [0, 1.05],
        "height": 480,
    },
)
fig.show()

# %% [markdown]
# Each line is one prompting method; each point one model. To see where chain of thought
# starts to pay off, run this notebook in Colab with `QUICK = False` and larger models added
# to `MODELS` (SmolLM2-360M and 1.7B, Qwen2.5-0.5B and 1.5B Instruct): the lines gain points
# to the right. Expect the few-shot CoT line on addition and last-letter concatenation to cross
# above the direct line somewhere in that range only if those models have seen enough worked
# arithmetic; Wei et al. place the crossover for general models near $10^{11}$ parameters.
#
# ## Summary
#
# - In-context examples change the conditioning, not the weights. At $10^8$ parameters they
#   mostly teach the **format and label set**: a large gain for a base model that otherwise
#   does not answer, a smaller one for an instruction-tuned model, and a loss where the model
#   copies the examples' answers instead of computing its own.
# - **Chain of thought helps these models only on one-step tasks.** On the multi-step tasks it
#   was invented for they copy the look of reasoning, not its correctness, and it costs several
#   times the tokens and time. Its benefit there is an emergent ability of far larger models.
# - Results depend on the **order** (and choice) of examples; report intervals and more than
#   one prompt.
# - Scoring is part of the experiment: a strict extractor and an "answered" rate keep format
#   failures from being confused with knowledge, and keep lenient matching from inventing it.
