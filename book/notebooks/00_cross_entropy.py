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
# # From cross-entropy to the next token
#
# A language model does one thing: given the tokens so far, it returns a probability for every
# token that could come next. Everything else in this book (sampling, prompting, scaling laws,
# masked models) is built on that distribution and on one number that scores it, the
# **cross-entropy**. This chapter loads a real pretrained model, looks at its next-token
# distribution, and measures its cross-entropy on real text in nats, bits and perplexity.

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
QUICK = True  # CI runs QUICK; it only shortens the text scored below
MODELS = ["smollm2-135m-instruct", "gemma-3-270m"]  # short names, or hub ids in Colab
PROMPT = "The capital of France is"
SEED = 0

# %%
import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from IPython.display import display

import support  # noqa: F401  (sets up threads and the book's plotly renderer)
from support.corpora import wordnet_synsets
from support.likelihood import next_token_distribution, surprisal
from support.models import load_causal_lm
from support.plots import slider_figure
from support.report import glue

lm = load_causal_lm(MODELS[0])
print(f"{lm.name}: {sum(p.numel() for p in lm.model.parameters()) / 1e6:.0f}M parameters")

# %% [markdown]
# ## The next-token distribution
#
# The model maps the prompt's tokens to a vector of **logits** $z \in \mathbb{R}^{V}$, one per
# vocabulary entry, and the softmax turns them into probabilities,
#
# $$ p(x_{t} = v \mid x_{<t}) = \frac{e^{z_v}}{\sum_{u=1}^{V} e^{z_u}} . $$
#
# Here are the most likely continuations of the prompt, straight from the model.

# %%
dist = next_token_distribution(lm, PROMPT, k=15)
fig = go.Figure(go.Bar(x=[repr(t) for t in dist.tokens], y=dist.probabilities))
fig.update_layout(
    title=f"{lm.name}: next token after {PROMPT!r}",
    xaxis_title="next token (as decoded text)",
    yaxis_title="probability",
    height=420,
)
fig.show()
glue("top_token", repr(dist.tokens[0]))
glue("top_prob", float(dist.probabilities[0]))
glue("top15_mass", float(dist.probabilities.sum()))
glue("entropy_bits", dist.entropy_nats / np.log(2))

# %% [markdown]
# The most likely token is {glue:text}`top_token` with probability {glue:text}`top_prob:.3f`;
# the fifteen shown carry {glue:text}`top15_mass:.2f` of the mass, and the rest is spread over
# tens of thousands of other tokens. The **entropy** of the whole distribution,
# $H = -\sum_v p_v \log_2 p_v$, is {glue:text}`entropy_bits:.2f` bits: the model is about as
# uncertain as a choice among $2^H$ equally likely tokens.
#
# In Jupyter or Colab the controls below recompute the distribution live for another prompt or
# another number of tokens; in the static page they show the state they were saved in.

# %%
PROMPTS = [
    PROMPT,
    "The opposite of hot is",
    "Two plus two equals",
    "She opened the door and",
    "def fibonacci(n):",
]


def show_next_tokens(prompt: str, k: int) -> None:
    """Print the k most likely next tokens with a text bar for each probability."""
    shown = next_token_distribution(lm, prompt, k=k)
    for token, p in zip(shown.tokens, shown.probabilities, strict=True):
        print(f"{token!r:>14} {p:6.3f} {'█' * int(round(60 * p))}")


controls = widgets.interactive(
    show_next_tokens,
    prompt=widgets.Dropdown(options=PROMPTS, value=PROMPT, description="prompt"),
    k=widgets.IntSlider(value=8, min=3, max=20, description="tokens"),
)
display(controls)

# %% [markdown]
# ## Cross-entropy: how surprised the model is by real text
#
# Score the model on a text $x_1, \dots, x_T$ by the average **surprisal** of the tokens that
# actually came, $-\log p(x_t \mid x_{<t})$. This average is the cross-entropy between the
# text's distribution and the model's; with the natural logarithm it is in **nats**, with
# $\log_2$ in **bits**, and its exponential is the **perplexity**:
#
# $$ L = -\frac{1}{T}\sum_{t=1}^{T} \ln p(x_t \mid x_{<t}) \ \text{nats/token}, \qquad
#    L_{\text{bits}} = \frac{L}{\ln 2}, \qquad \mathrm{PPL} = e^{L}. $$
#
# It is the quantity a language model is trained to minimise, and the quantity the scaling laws
# of a later chapter predict from model size and data. Our text is real English, read at run
# time from WordNet: example sentences drawn with a fixed seed.

# %%
rng = np.random.default_rng(SEED)
sentences = [e for s in wordnet_synsets("n") for e in s.examples]
n_sentences = 12 if QUICK else 60
picked = rng.choice(len(sentences), size=n_sentences, replace=False)
text = " ".join(sentences[i].capitalize() + "." for i in sorted(picked))
print(text[:400] + " ...")

# %% [markdown]
# Every token's surprisal, in order. Spikes are tokens the model did not see coming: often the
# first word of a new, unrelated sentence, or a rare name.

# %%
scored = surprisal(lm, text)
fig = go.Figure(
    go.Scatter(
        x=np.arange(1, len(scored.tokens) + 1),
        y=scored.nats / np.log(2),
        mode="lines+markers",
        text=[repr(t) for t in scored.tokens],
        hovertemplate="token %{x}: %{text}<br>%{y:.2f} bits<extra></extra>",
    )
)
fig.add_hline(y=scored.mean_bits, line_dash="dash", annotation_text="mean (cross-entropy)")
fig.update_layout(
    title=f"{lm.name}: surprisal of each token of the text",
    xaxis_title="token position",
    yaxis_title="surprisal (bits)",
    height=420,
)
fig.show()

# %% [markdown]
# The dashed line is the cross-entropy. Hover over a point to see which token it is.
#
# ## Two models, two tokenizers, one fair unit
#
# Tokens are not comparable across models: each tokenizer cuts text differently, so a model
# with longer tokens has fewer, harder predictions. Dividing the total bits by the number of
# *characters* gives **bits per character**, which is comparable. Below, both offline models
# score the same text, and the same text with its words shuffled (the same tokens, no syntax).


# %%
def shuffle_words(passage: str, seed: int) -> str:
    """The same words in a random order: a control with identical vocabulary and no grammar."""
    words = passage.split()
    order = np.random.default_rng(seed).permutation(len(words))
    return " ".join(words[i] for i in order)


rows = []
for name in MODELS:
    model = load_causal_lm(name)
    for label, passage in [("real text", text), ("shuffled words", shuffle_words(text, SEED))]:
        s = surprisal(model, passage)
        rows.append((name, label, len(s.tokens), s.mean_nats, s.mean_bits, s.perplexity,
                     s.bits_per_character))  # fmt: skip

header = f"{'model':<24}{'text':<16}{'tokens':>7}{'nats/tok':>10}{'bits/tok':>10}"
print(header + f"{'PPL':>9}{'bits/char':>11}")
for name, label, n, nats, bits, ppl, bpc in rows:
    print(f"{name:<24}{label:<16}{n:>7}{nats:>10.3f}{bits:>10.3f}{ppl:>9.1f}{bpc:>11.3f}")

real = {r[0]: r for r in rows if r[1] == "real text"}
shuffled = {r[0]: r for r in rows if r[1] == "shuffled words"}
glue("loss_nats", real[MODELS[0]][3])
glue("loss_bits", real[MODELS[0]][4])
glue("ppl", real[MODELS[0]][5])
glue("bpc_first", real[MODELS[0]][6])
glue("bpc_second", real[MODELS[-1]][6])
glue("bpc_shuffled_first", shuffled[MODELS[0]][6])

# %% [markdown]
# On the real text {glue:text}`loss_nats:.3f` nats per token is {glue:text}`loss_bits:.3f`
# bits per token and a perplexity of {glue:text}`ppl:.1f`: the first model is, on average, as
# unsure as a uniform choice among that many tokens. Per character the two models score
# {glue:text}`bpc_first:.3f` and {glue:text}`bpc_second:.3f` bits. Shuffling the words raises
# the first model's cost to {glue:text}`bpc_shuffled_first:.3f` bits per character: much of
# what the model predicts is word order, not just which words appear.
#
# ```{admonition} Exercise
# A model assigns probability 1/4 to the correct token at every position. What are its
# cross-entropy in nats and in bits, and its perplexity? What is the lowest cross-entropy any
# model can reach on a given text source?
# ```
#
# ```{admonition} Worked solution
# :class: dropdown
# Each surprisal is $-\ln(1/4) = \ln 4 \approx 1.386$ nats, so the average is the same:
# $L = 1.386$ nats $= 2$ bits per token, and $\mathrm{PPL} = e^{\ln 4} = 4$ — as uncertain as a
# fair choice among four tokens. Cross-entropy is the source's entropy plus the KL divergence
# from the source to the model, $H(p, q) = H(p) + D_{\mathrm{KL}}(p \,\|\, q) \ge H(p)$, so the
# floor is the entropy of the text itself. This is the irreducible term $E$ in the Chinchilla
# scaling law of the scaling-laws chapter: more parameters and data shrink only the KL part.
# ```
#
# ## Walking through a sentence
#
# The slider steps through one sentence token by token. Each step shows the model's top
# predictions for the next token, with the token that actually came in orange (when it is
# among the top ten); the title gives its probability and surprisal. This figure is
# precomputed, so it works in the static page.

# %%
sentence = sentences[int(picked[0])].capitalize() + "."
ids = lm.tokenizer(sentence, add_special_tokens=False).input_ids
steps, labels, titles = [], [], []
for position in range(1, len(ids)):
    context = lm.tokenizer.decode(ids[:position])
    actual = lm.tokenizer.decode([ids[position]])
    top = next_token_distribution(lm, context, k=10)
    actual_p = surprisal(lm, lm.tokenizer.decode(ids[: position + 1])).nats[-1]
    colours = ["#ff7f0e" if int(t) == ids[position] else "#1f77b4" for t in top.token_ids]
    steps.append(
        [go.Bar(x=[repr(t) for t in top.tokens], y=top.probabilities, marker_color=colours)]
    )
    labels.append(str(position))
    titles.append(
        f"…{context[-40:]!r} → actual {actual!r}: p = {np.exp(-actual_p):.3f}, "
        f"{actual_p / np.log(2):.2f} bits"
    )

fig = slider_figure(
    steps,
    labels,
    titles,
    slider_prefix="context length (tokens): ",
    layout={
        "xaxis_title": "candidate next token",
        "yaxis_title": "probability",
        "yaxis_range": [0, 1],
        "height": 480,
        "title_font_size": 13,
    },
)
fig.show()

# %% [markdown]
# Early in a sentence the distribution is flat (many continuations are plausible); once the
# words constrain what follows, one token often takes most of the mass. The cross-entropy of
# the previous section is nothing more than the average of the surprisals in these titles.
#
# ## What comes next
#
# - **Decoding** turns this distribution into text: greedy, temperature, top-k and top-p.
# - **Prompting** changes the context, and with it the distribution, without changing weights.
# - **Scaling laws** predict how the cross-entropy falls with parameters and data.
# - **Masked language models** predict a token from *both* sides instead of the left only.
