# Two entry points (see README): `make book` builds the book, `make test` runs the test suite.
# Both set up what they need (a pinned .venv, the verified datasets) and are fast when nothing changed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test book chapters html data venv lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check -e '.[dev,book]'
	touch $@

data: $(STAMP)
	$(PY) -m nbsrc.data

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: data lint
	$(VENV)/bin/pytest

chapters: data
	$(PY) -m nbsrc book --execute-only

html: $(STAMP)
	$(PY) -m nbsrc book --build-only

book: data
	$(PY) -m nbsrc book

bench: data
	$(PY) benchmarks/bench_ablation.py

clean:
	rm -rf _build
