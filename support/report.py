"""Put numbers measured in a run into the chapter's prose.

``glue`` stores a value in the executed notebook so that the book's markdown can show it inline
(myst-nb's ``{glue:text}`` role). Where myst-nb is not installed (Colab), the value is simply not
glued: the reader sees it in the cell outputs instead.
"""

from __future__ import annotations

from typing import Any

try:  # myst-nb is a book-build dependency, not a runtime one
    from myst_nb import glue as _myst_glue
except ImportError:  # pragma: no cover - exercised only outside the build environment
    _myst_glue = None


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the prose (returns nothing, so no stray ``Out[]``)."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(
            f"name must be a non-empty identifier (letters, digits, _ or -), got {name!r}"
        )
    # numpy scalars repr as ``np.float64(...)``, which myst-nb cannot format as a number.
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if _myst_glue is not None:
        _myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as show

        show(value)
