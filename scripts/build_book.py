"""Execute every chapter with papermill, then build the HTML book with Jupyter Book.

    python scripts/build_book.py                 # all chapters, QUICK=True, then the site
    python scripts/build_book.py --only 01_decoding   # one chapter, no site
    python scripts/build_book.py --full          # QUICK=False (hours on a CPU)

The committed ``book/`` is never written to: it is copied to ``book/_build/src``, the copies are
executed there (papermill's exit status stops the build at the first error), the self-hosted
front-end files are put beside them, and ``jupyter-book build -W`` renders the result into
``book/_build/html``. Each notebook's wall time and the total are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BUILD = BOOK / "_build"
STAGE = BUILD / "src"
ASSETS = ROOT / "assets" / "node_modules"

# Environment of the kernels: offline, packaged models, passive OpenMP waiting on 2 busy cores,
# no progress bars, and the div-only plotly renderer (support.plots).
KERNEL_ENV = {
    "BOOK_BUILD": "1",
    "LLM_BOOK_MODEL_SOURCE": "packaged",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "WANDB_DISABLED": "true",
}


def toc_notebooks() -> list[str]:
    """Chapter stems in the order of ``_toc.yml`` (the files under ``notebooks/``)."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    stems = []
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            file = chapter["file"]
            if file.startswith("notebooks/"):
                stems.append(file.removeprefix("notebooks/"))
    missing = [s for s in stems if not (BOOK / "notebooks" / f"{s}.ipynb").exists()]
    if missing:
        raise SystemExit(f"_toc.yml lists notebooks that do not exist: {missing}")
    return stems


def stage_sources() -> None:
    """Copy the book's sources (not _build) to the staging folder."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    shutil.copytree(BOOK, STAGE, ignore=shutil.ignore_patterns("_build", "*.py", "__pycache__"))


def stage_front_end() -> None:
    """Put the files the site serves itself under ``_vendor`` (Sphinx copies them to _static)."""
    import plotly

    vendor = STAGE / "_vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    sources = {
        "plotly/plotly.min.js": plotly_js,
        "requirejs/require.js": ASSETS / "requirejs" / "require.js",
        "html-manager": ASSETS / "@jupyter-widgets" / "html-manager" / "dist",
        "mathjax": ASSETS / "mathjax" / "es5",
        "site": ROOT / "assets" / "site",
    }
    for target, source in sources.items():
        if not source.exists():
            raise SystemExit(
                f"{source} is missing: run `make setup` (it installs the front-end files with npm)."
            )
        destination = vendor / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("*.map", "*.ts"))
        else:
            shutil.copy2(source, destination)


def execute(stem: str, *, quick: bool, output: Path) -> float:
    """Run one chapter with papermill; return its wall time in seconds."""
    source = BOOK / "notebooks" / f"{stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    os.environ.update(KERNEL_ENV)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source),
        str(output),
        parameters={"QUICK": quick},
        kernel_name="python3",
        cwd=str(output.parent),
        progress_bar=False,
        request_save_on_cell_execute=False,
    )
    seconds = time.perf_counter() - start
    hide_injected_parameters(output)
    return seconds


def hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell so the HTML does not show it."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, path)


def build_site() -> float:
    start = time.perf_counter()
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        "--all",
        "-W",
        "--keep-going",
        "--path-output",
        str(BOOK),
        str(STAGE),
    ]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **KERNEL_ENV})
    if result.returncode != 0:
        raise SystemExit(f"jupyter-book build failed (exit {result.returncode})")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="STEM", help="execute one chapter, e.g. 01_decoding")
    parser.add_argument("--full", action="store_true", help="QUICK=False (long runs)")
    parser.add_argument(
        "--site-only",
        action="store_true",
        help="rebuild the HTML from the notebooks executed last time (for work on the site)",
    )
    args = parser.parse_args(argv)
    quick = not args.full

    if args.only:
        output = STAGE / "notebooks" / f"{args.only}.ipynb"
        seconds = execute(args.only, quick=quick, output=output)
        print(f"[time] {args.only}: {seconds:.1f} s -> {output.relative_to(ROOT)}", flush=True)
        return

    total_start = time.perf_counter()
    stems = toc_notebooks()
    executed = {s: STAGE / "notebooks" / f"{s}.ipynb" for s in stems}
    kept = {s: p.read_bytes() for s, p in executed.items() if args.site_only and p.exists()}
    stage_sources()
    stage_front_end()
    timings: dict[str, float] = {}
    for stem, content in kept.items():
        executed[stem].write_bytes(content)
    for stem in (s for s in stems if s not in kept):
        print(f"[run ] {stem} (QUICK={quick})", flush=True)
        try:
            timings[stem] = execute(stem, quick=quick, output=STAGE / "notebooks" / f"{stem}.ipynb")
        except papermill.PapermillExecutionError as error:
            print(f"[fail] {stem}: {error.ename}: {error.evalue}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        print(f"[time] {stem}: {timings[stem]:.1f} s", flush=True)
    site = build_site()
    total = time.perf_counter() - total_start
    print(f"\nWall time per notebook (QUICK={quick}):")
    for stem, seconds in timings.items():
        print(f"  {stem:<28} {seconds:7.1f} s")
    print(f"  {'jupyter-book build':<28} {site:7.1f} s")
    print(f"  {'total':<28} {total:7.1f} s ({total / 60:.1f} min)")
    print(f"Site: {(BUILD / 'html' / 'index.html').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
