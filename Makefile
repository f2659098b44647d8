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
# The mailbox tests and `make run` read mail from Debian's Dovecot (devtools/dovecot.py).
DOVECOT := /usr/sbin/dovecot
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

# checkov's dependencies clash with ours, so it gets a virtual environment of its own. It
# lives inside .venv so that it is git-ignored and `make clean` removes it too.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: install run test faults lint checkov bench clean

$(PY_STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt -r requirements-dev.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Chart.js draws the agents' dashboard. The app serves it itself (no CDN), so it is copied
# from node_modules into functions/static/vendor/, which deploys with the app
# (infra/package.py refuses to stage a package without it). Git-ignored: package-lock.json
# pins the version, and a copy in git could drift from it.
VENDOR := functions/static/vendor
VENDOR_FILES := $(VENDOR)/chart.umd.min.js $(VENDOR)/chart.js-LICENSE.md

$(VENDOR)/chart.umd.min.js: $(NODE_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $@

$(VENDOR)/chart.js-LICENSE.md: $(NODE_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/LICENSE.md $@

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium

# Ours runs with its own configuration and ports. Where systemd runs, the package also
# starts the system's Dovecot on 143 and 993, which we do not use
# (`sudo systemctl disable --now dovecot` stops it).
$(DOVECOT):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends dovecot-imapd

install: $(PY_STAMP) $(NODE_STAMP) $(VENDOR_FILES) $(CHROMIUM) $(DOVECOT)

$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements-checkov.txt
	touch $@

# The scanner for infra/ (tests/infra/test_checkov.py runs it).
checkov: $(CHECKOV_STAMP)

run: install
	$(PY) -m devtools.run

# lint-imports checks the layering of shared/ (.importlinter); tests/unit/test_architecture.py
# the rest of it (which packages may import the Azure SDKs), with the tests.
lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy shared functions devhost devtools bench tools function_app.py
	$(VENV)/bin/lint-imports

test: lint checkov
	$(PY) -m pytest

# Storage and queue faults under load (tests/faults): their own Azurite, MailDev and host,
# stopped, frozen and restarted mid-run; prints the figures. CI runs it after `make test`.
faults: install
	$(PY) -m pytest -m faults tests/faults -s -q

# Figures for bench/README.md (Performance): a markdown table, and bench/results/latest.json.
# About 50 minutes, half of it seeding the 100,000-ticket backlog into Azurite (`--sizes`),
# and more than an hour more for issue 21's stocked desks (`--backlog`, `--queue-case`).
bench: install
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) node_modules .pytest_cache $(VENDOR)
