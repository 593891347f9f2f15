"""The built site, in a real headless Chromium: self-contained, error-free, and interactive.

Needs `make book` first (skips without it; fails in CI). Screenshots of every page are saved in
book/_build/screenshots for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from browser import browser, chromium_path, serve

pytestmark = pytest.mark.built_book

# Console messages that are not errors of this site: ajv (inside the widgets bundle) notes a
# schema keyword it tolerates.
IGNORED_CONSOLE = ("strict mode: use allowUnionTypes",)


def _browser_own_request(url: str) -> bool:
    """Chromium asks every page for /favicon.ico by itself (the redirect page links none)."""
    return urlparse(url).path == "/favicon.ico"


def _record_console(record: dict, message) -> None:
    if message.type == "error" and not _browser_own_request(message.location.get("url", "")):
        record["errors"].append(f"{message.text} ({message.location.get('url', '')})")


def _record_response(record: dict, response) -> None:
    if response.status >= 400 and not _browser_own_request(response.url):
        record["failed"].append(response.url)


WIDGET_VIEWS = 'script[type="application/vnd.jupyter.widget-view+json"]'


def _wait_for_widgets(page) -> None:
    """Widgets render asynchronously after load; give a busy machine time (15 s at most)."""
    try:
        page.wait_for_function(
            f"() => Array.from(document.querySelectorAll('{WIDGET_VIEWS}'))"
            ".every(s => s.parentElement.querySelector(':scope > .widget-subarea'))",
            timeout=15_000,
        )
    except Exception:  # noqa: BLE001 - the assertions below report what did not render
        pass
    page.wait_for_timeout(300)


def site_pages(html: Path) -> list[str]:
    pages = [p.relative_to(html).as_posix() for p in html.rglob("*.html")]
    return sorted(p for p in pages if not p.startswith("_static/"))


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest):
    """Load every page once; record requests, console messages and what rendered."""
    html = request.getfixturevalue("built_html")
    if chromium_path() is None:
        pytest.fail("Chromium is missing: `apt-get install chromium` (make setup installs it)")
    shots = html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    results = {}
    with serve(html) as base, browser() as context:
        for name in site_pages(html):
            page = context.new_page()
            record = {"requests": [], "errors": [], "failed": []}
            page.on("request", lambda r, rec=record: rec["requests"].append(r.url))
            page.on("console", lambda m, rec=record: _record_console(rec, m))
            page.on("pageerror", lambda e, rec=record: rec["errors"].append(str(e)))
            page.on("response", lambda r, rec=record: _record_response(rec, r))
            page.goto(f"{base}/{name}", wait_until="networkidle")
            _wait_for_widgets(page)
            record["plots"] = page.evaluate(
                "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".map(d => ({svg: !!d.querySelector('.main-svg'), slider: !!d.querySelector("
                "'.slider-container')}))"
            )
            record["plot_divs_in_source"] = (
                (html / name).read_text().count('class="plotly-graph-div"')
            )
            record["widget_views"] = page.evaluate(
                f"() => Array.from(document.querySelectorAll('{WIDGET_VIEWS}'))"
                ".map(s => s.parentElement.querySelectorAll(':scope > .widget-subarea').length)"
            )
            page.screenshot(path=str(shots / (name.replace("/", "__") + ".png")), full_page=True)
            record["base"] = base
            results[name] = record
            page.close()
        yield {"pages": results, "base": base, "context": context}


def test_site_has_the_chapters(site) -> None:
    pages = site["pages"]
    assert "intro.html" in pages
    assert any(p.startswith("notebooks/") for p in pages)


def test_no_request_leaves_the_site(site) -> None:
    for name, record in site["pages"].items():
        host = urlparse(record["base"]).netloc
        foreign = [
            u for u in record["requests"]
            if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != host
        ]  # fmt: skip
        assert not foreign, f"{name} requested other hosts: {foreign[:5]}"


def test_no_console_errors_or_missing_files(site) -> None:
    for name, record in site["pages"].items():
        errors = [e for e in record["errors"] if not any(i in e for i in IGNORED_CONSOLE)]
        assert not errors, f"{name}: {errors[:5]}"
        assert not record["failed"], f"{name}: failed to load {record['failed'][:5]}"


def test_every_plotly_figure_renders(site) -> None:
    chapters = {n: r for n, r in site["pages"].items() if n.startswith("notebooks/")}
    assert all(r["plots"] for r in chapters.values()), "a chapter has no plotly figure"
    for name, record in chapters.items():
        assert len(record["plots"]) == record["plot_divs_in_source"]
        assert all(p["svg"] for p in record["plots"]), f"{name}: a figure did not draw"


def test_widgets_render_exactly_once(site) -> None:
    views = [n for r in site["pages"].values() for n in r["widget_views"]]
    assert views, "no page has a saved ipywidgets view"
    assert all(n == 1 for n in views), f"widget views rendered {views} times"


def test_every_slider_changes_its_figure(site) -> None:
    """Click a slider's far end: the title (and the data shown) must change."""
    context, base = site["context"], site["base"]
    tested = 0
    for name, record in site["pages"].items():
        if not any(p["slider"] for p in record["plots"]):
            continue
        page = context.new_page()
        page.goto(f"{base}/{name}", wait_until="networkidle")
        figures = page.locator(".plotly-graph-div")
        for index, plot in enumerate(record["plots"]):
            if not plot["slider"]:
                continue
            figure = figures.nth(index)
            figure.scroll_into_view_if_needed()
            state = (
                "(d) => JSON.stringify([d.layout.title.text, "
                "d.data.map(t => t.visible), d.layout.sliders[0].active])"
            )
            before = figure.evaluate(state)
            rail = figure.locator(".slider-rail-rect").first.bounding_box()
            assert rail is not None, f"{name} figure {index}: no slider rail"
            page.mouse.click(rail["x"] + rail["width"] - 2, rail["y"] + rail["height"] / 2)
            page.wait_for_timeout(400)
            after = figure.evaluate(state)
            assert after != before, f"{name} figure {index}: the slider click changed nothing"
            tested += 1
        page.close()
    assert tested, "no slider figure was found in the built site"


def test_every_chapter_links_to_colab(built_html: Path) -> None:
    """The Colab button opens the committed, output-free .ipynb of the same chapter."""
    chapters = sorted((built_html / "notebooks").glob("*.html"))
    assert chapters
    for page in chapters:
        link = f"colab.research.google.com/github/{{}}/blob/main/book/notebooks/{page.stem}.ipynb"
        text = page.read_text()
        assert "colab.research.google.com/github/" in text
        assert link.split("{}")[1] in text, f"{page.name} has no Colab link to its notebook"
