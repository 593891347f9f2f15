"""Plotly helpers: the build-time renderer and slider figures that work in static HTML.

In Jupyter or Colab, figures use plotly's own renderers. During the book build (``BOOK_BUILD=1``)
a renderer emits only the figure's ``<div>`` and its ``Plotly.newPlot`` call: the site serves one
local ``plotly.min.js`` for every page instead of inlining 4 MB of JavaScript per figure, and no
``application/vnd.plotly.v1+json`` output is left for myst-nb to drop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

BOOK_RENDERER = "book_div"


class DivOnlyRenderer(MimetypeRenderer):
    """Render a figure as an HTML ``<div>`` that expects plotly.js to be loaded by the page."""

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
        html = pio.to_html(
            fig_dict,
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            validate=False,
            config={"responsive": True, "displaylogo": False},
        )
        return {"text/html": html}


def install_book_renderer(environ: dict[str, str] | None = None) -> bool:
    """Register the div-only renderer; make it the default when ``BOOK_BUILD=1``.

    Returns whether it became the default.
    """
    env = os.environ if environ is None else environ
    pio.renderers[BOOK_RENDERER] = DivOnlyRenderer()
    if env.get("BOOK_BUILD") == "1":
        pio.renderers.default = BOOK_RENDERER
        return True
    return False


def interval_error_y(intervals: Sequence[tuple[float, float, float]]) -> dict[str, Any]:
    """Plotly ``error_y`` for ``(point, low, high)`` triples, as ``stats.bootstrap_ci`` returns.

    The bars are asymmetric: a bootstrap interval need not be centred on its estimate.

    >>> interval_error_y([(0.5, 0.4, 0.7)])["array"]
    [0.19999999999999996]
    """
    for point, low, high in intervals:
        if not low <= point <= high:
            raise ValueError(
                f"intervals must satisfy low <= point <= high, got {(point, low, high)}"
            )
    return {
        "type": "data",
        "symmetric": False,
        "array": [high - point for point, _, high in intervals],
        "arrayminus": [point - low for point, low, _ in intervals],
    }


def slider_figure(
    steps: Sequence[Sequence[go.BaseTraceType]],
    labels: Sequence[str],
    titles: Sequence[str],
    *,
    slider_prefix: str,
    layout: dict[str, Any] | None = None,
    active: int = 0,
) -> go.Figure:
    """A figure with one slider step per entry of ``steps``; each step shows only its own traces.

    Every step is precomputed, so the slider works in a static page with no kernel. A step
    updates ``title.text`` (updating ``title`` as a whole would drop the title's styling).

    >>> fig = slider_figure([[go.Bar(y=[1, 2])], [go.Bar(y=[2, 1])]], ["a", "b"], ["A", "B"],
    ...                     slider_prefix="case: ")
    >>> len(fig.layout.sliders[0].steps)
    2
    """
    if len(steps) == 0:
        raise ValueError("steps must hold at least one step, got 0")
    if not (len(steps) == len(labels) == len(titles)):
        raise ValueError(
            "steps, labels and titles must have equal lengths, got "
            f"{len(steps)}, {len(labels)} and {len(titles)}"
        )
    if not 0 <= active < len(steps):
        raise ValueError(f"active must be in [0, {len(steps) - 1}], got {active}")
    if any(len(traces) == 0 for traces in steps):
        raise ValueError("every step must hold at least one trace")

    fig = go.Figure()
    owner: list[int] = []
    for index, traces in enumerate(steps):
        for trace in traces:
            trace.visible = index == active
            fig.add_trace(trace)
            owner.append(index)

    slider_steps = [
        {
            "method": "update",
            "label": label,
            "args": [{"visible": [o == index for o in owner]}, {"title.text": title}],
        }
        for index, (label, title) in enumerate(zip(labels, titles, strict=True))
    ]
    fig.update_layout(
        title={"text": titles[active]},
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": slider_prefix},
                "pad": {"t": 50},
                "steps": slider_steps,
            }
        ],
    )
    if layout:
        fig.update_layout(**layout)
    return fig
