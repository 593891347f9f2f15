"""Shared fixtures: paths of the built book and the numbers chapters glued into it."""

from __future__ import annotations

import ast
import os

# Before anything imports torch: busy-waiting OpenMP threads slowed the model tests tenfold on
# two shared cores (support/__init__.py sets the same, but a test may import torch first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "book" / "_build"
EXECUTED = BUILD / "src" / "notebooks"
HTML = BUILD / "html"


def _need_built(path: Path) -> None:
    """Skip when the book was not built, except in CI where that is a failure."""
    if path.exists():
        return
    message = f"{path.relative_to(ROOT)} is missing: run `make book` first"
    if os.environ.get("REQUIRE_BUILT_BOOK") == "1":
        pytest.fail(message)
    pytest.skip(message)


def read_glued(path: Path) -> dict[str, Any]:
    """Values stored with ``glue`` in an executed notebook, parsed from their text form."""
    notebook = nbformat.read(path, as_version=4)
    values: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if not name:
                continue
            text = output["data"].get("application/papermill.record/text/plain", "")
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text
    return values


@pytest.fixture
def glued() -> Callable[[str], dict[str, Any]]:
    """``glued("00_cross_entropy")`` -> {name: value} of that chapter's executed run."""

    def load(stem: str) -> dict[str, Any]:
        path = EXECUTED / f"{stem}.ipynb"
        _need_built(path)
        return read_glued(path)

    return load


@pytest.fixture(scope="session")
def built_html() -> Path:
    """The built site's folder (skips, or fails in CI, when it is missing)."""
    _need_built(HTML / "index.html")
    return HTML
