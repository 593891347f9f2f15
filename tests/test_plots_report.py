"""support.plots and support.report: the build-time renderer, slider figures, glue."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from support import plots, report


def test_renderer_is_default_only_in_the_build() -> None:
    previous = pio.renderers.default
    try:
        assert plots.install_book_renderer({"BOOK_BUILD": "1"}) is True
        assert pio.renderers.default == plots.BOOK_RENDERER
        pio.renderers.default = previous
        assert plots.install_book_renderer({}) is False
        assert pio.renderers.default == previous
    finally:
        pio.renderers.default = previous


def test_renderer_emits_a_div_without_plotly_js() -> None:
    bundle = plots.DivOnlyRenderer().to_mimebundle(go.Figure(go.Bar(y=[1, 2])).to_dict())
    html = bundle["text/html"]
    assert list(bundle) == ["text/html"]
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert len(html) < 20_000  # plotly.js itself (megabytes) is not inlined


def test_slider_steps_toggle_their_own_traces_and_title_text() -> None:
    fig = plots.slider_figure(
        [[go.Bar(y=[1])], [go.Bar(y=[2]), go.Scatter(y=[3])]],
        ["one", "two"],
        ["Title 1", "Title 2"],
        slider_prefix="n: ",
    )
    steps = fig.layout.sliders[0].steps
    assert [s.args[0]["visible"] for s in steps] == [[True, False, False], [False, True, True]]
    assert [s.args[1] for s in steps] == [{"title.text": "Title 1"}, {"title.text": "Title 2"}]
    assert fig.layout.title.text == "Title 1"
    assert [t.visible for t in fig.data] == [True, False, False]


@pytest.mark.parametrize(
    ("steps", "labels", "titles", "match"),
    [
        ([], [], [], "at least one step"),
        ([[go.Bar()]], ["a", "b"], ["A"], "equal lengths"),
        ([[]], ["a"], ["A"], "at least one trace"),
    ],
)
def test_slider_rejects_bad_input(steps, labels, titles, match) -> None:
    with pytest.raises(ValueError, match=match):
        plots.slider_figure(steps, labels, titles, slider_prefix="")


def test_slider_active_out_of_range() -> None:
    with pytest.raises(ValueError, match="active must be in"):
        plots.slider_figure([[go.Bar()]], ["a"], ["A"], slider_prefix="", active=1)


def test_glue_rejects_bad_names_and_returns_nothing() -> None:
    with pytest.raises(ValueError, match="name must be"):
        report.glue("bad name!", 1)
    assert report.glue("fine_name", 1.5) is None


def test_interval_error_y_is_asymmetric_and_checked() -> None:
    bars = plots.interval_error_y([(0.5, 0.25, 1.0), (2.0, 2.0, 2.0)])
    assert bars["array"] == [0.5, 0.0] and bars["arrayminus"] == [0.25, 0.0]
    assert bars["symmetric"] is False
    with pytest.raises(ValueError, match="low <= point <= high"):
        plots.interval_error_y([(0.1, 0.2, 0.3)])
