"""Helpers shared by the book's chapters: models, corpora, plots and one module per concept.

Importing ``support`` is fast and offline-safe: it loads no model and touches no network.
"""

import os

# With other load on two cores, OpenMP's default busy-waiting threads slowed token generation
# more than tenfold; passive waiting only helps if set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from support.plots import install_book_renderer  # noqa: E402

install_book_renderer()

__all__ = ["install_book_renderer"]
