# The two commands of the README: `make book` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
LINTED := support tests scripts book/notebooks/*.py

.PHONY: setup book test lint unit clean

setup:
	bash scripts/setup.sh

book: setup
	$(PY) scripts/build_book.py

lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

test: lint
	$(VENV)/bin/pytest

clean:
	rm -rf book/_build
