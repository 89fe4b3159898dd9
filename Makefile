# Two entry points (see README): `make book` builds the book, `make test` runs the test suite.
# Both set up what they need (a pinned .venv, the verified datasets) and are fast when nothing changed.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test book chapters html data assets chromium check-html lab venv lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check -e '.[dev,book]'
	touch $@

data: $(STAMP)
	$(PY) -m nbsrc.data

lint: $(STAMP)
	$(VENV)/bin/ruff check .

assets: $(STAMP)
	$(PY) -m nbsrc.assets

# Test-only: Debian's chromium and chromium-driver for the browser checks (apt-get when missing).
chromium: $(STAMP)
	$(PY) -c "from nbsrc.browser import ensure_chromium; print(*ensure_chromium())"

test: data assets chromium lint
	$(VENV)/bin/pytest

# Re-execute every chapter (from the model and analysis caches), whether stale or not.
chapters: data
	$(PY) -m nbsrc book --execute-only --force all

# JupyterLab on the book, with this environment registered as the kernel "nbsrc".
lab: $(STAMP)
	$(PY) -m ipykernel install --user --name nbsrc --display-name "Python (nbsrc)"
	$(VENV)/bin/jupyter lab book/

html: assets
	$(PY) -m nbsrc book --build-only

book: data assets
	$(PY) -m nbsrc book

# Headless Chromium over the built book: offline, images, equations, overflow; screenshots in _build/screenshots/
check-html: chromium
	$(PY) -m nbsrc.browser _build/html

bench: data
	$(PY) benchmarks/bench_ablation.py
	$(PY) benchmarks/bench_chapter.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_data.py

clean:
	rm -rf _build
