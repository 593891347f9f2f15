"""Every chapter is a paired notebook: the committed .ipynb matches its .py and has no outputs."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "book" / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))


def test_there_are_chapters() -> None:
    assert SOURCES, "book/notebooks holds no chapter sources"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_is_in_sync_with_py(source: Path) -> None:
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: jupytext --to ipynb {source}"
    from_py = jupytext.read(source)
    committed = nbformat.read(ipynb, as_version=4)

    # Compare what matters to a reader: cell types, sources and tags.
    def cells(nb):
        return [(c.cell_type, c.source, tuple(c.metadata.get("tags", []))) for c in nb.cells]

    assert cells(committed) == cells(from_py), (
        f"{ipynb.name} differs from {source.name}: "
        f"run `.venv/bin/jupytext --to ipynb --update {source.relative_to(ROOT)}`"
    )
    assert committed.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_has_no_outputs(source: Path) -> None:
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    with_outputs = [i for i, c in enumerate(committed.cells) if c.get("outputs")]
    assert not with_outputs, f"cells {with_outputs} of {source.stem}.ipynb have outputs"
    counts = [c.get("execution_count") for c in committed.cells if c.cell_type == "code"]
    assert all(n is None for n in counts), "execution counts are committed"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_chapter_structure(source: Path) -> None:
    """One title, a Colab cell that does nothing elsewhere, then one parameters cell with QUICK."""
    nb = jupytext.read(source)
    titles = [
        line
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("# ")
    ]
    assert len(titles) == 1, f"{source.stem} needs exactly one '# ' title, has {titles}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "google.colab" in code[0].source, "the first code cell must be the Colab setup"
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "QUICK" in parameters[0].source


def test_toc_lists_every_chapter() -> None:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    listed = {c["file"] for part in toc["parts"] for c in part["chapters"]}
    assert listed == {f"notebooks/{s.stem}" for s in SOURCES}
