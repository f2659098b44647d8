# Two commands: `make run` (the help desk locally) and `make test` (every test).
# Both install what is missing first: the virtual environment and the npm packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The browser tests drive Debian's chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

.PHONY: install run test lint bench clean

$(PY_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium

install: $(PY_STAMP) $(NODE_STAMP) $(CHROMIUM)

run: install
	$(PY) -m devtools.run

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy shared functions devhost devtools bench tools function_app.py

test: lint
	$(PY) -m pytest

# Figures for README's Performance section: a markdown table, and bench/results/latest.json.
# `.venv/bin/python -m bench.run --sizes 1000 10000 100000` adds the (slow) 100,000 backlog.
bench: install
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) node_modules .pytest_cache
