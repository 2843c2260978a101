# islr: two commands matter -- `make train` and `make test`. `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm ci of the browser app's packages; re-run when the lock changes.
NPM_STAMP := web/node_modules/.installed
PYTEST_WORKERS ?= 2
# Where the demo data and its cache live (gitignored).
DEMO_DATA ?= data/synthetic

.DEFAULT_GOAL := help
.PHONY: help install extract-env train test test-fast lint format bench clean data docs docs-check

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if (3, 11) <= v[:2] <= (3, 13) else "islr needs Python 3.11-3.13, found %d.%d" % v[:2])'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,jax,cluster,tracking,pose]"
	$(BIN)/islr-extract --setup --quiet
	touch $(STAMP)

install: $(STAMP) $(NPM_STAMP) ## Create .venv: islr with dev, jax and cluster extras, and MediaPipe's own env, npm ci of web/

# Without node/npm, exports skip their browser app (web/) and the browser tests are skipped.
$(NPM_STAMP): web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix web --no-audit --no-fund --loglevel=error && touch $(NPM_STAMP); \
	else \
		echo "node/npm not found: exports skip the browser app (get them with: apt-get install nodejs npm; then make install)"; \
	fi

extract-env: ## (Re)create MediaPipe's extraction environment (.venv/islr-mediapipe)
	test -x $(BIN)/islr-extract || $(MAKE) install
	$(BIN)/islr-extract --setup

data: install ## Generate the synthetic demo data set if absent
	$(BIN)/islr-synth --out $(DEMO_DATA) --preset demo --if-missing

train: data ## Set up, make demo data, train the demo model on CPU, evaluate and export it
	$(BIN)/islr-train experiment=demo data.root=$(DEMO_DATA)

test: install ## Build the docs (strict), run the full test suite (TensorFlow, then the backend tests under JAX)
	@$(MAKE) --no-print-directory docs-check
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q
	KERAS_BACKEND=jax $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q -m backend

test-fast: install ## The quick subset: TensorFlow backend only, no slow (end-to-end) tests
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q -m "not slow"

docs: install ## Build the documentation site into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The strict build, printed only when it fails: `mkdocs build --strict --quiet` would not fail
# on warnings (a broken link or anchor), so its output is held back here instead.
docs-check: install
	@out=$$(NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict 2>&1) \
		&& echo "docs: mkdocs build --strict passed (site/)" \
		|| { echo "$$out"; echo "docs: mkdocs build --strict failed"; exit 1; }

lint: install ## ruff check + format check
	$(BIN)/ruff check src tests bench notebooks
	$(BIN)/ruff format --check src tests bench notebooks

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests bench notebooks
	$(BIN)/ruff format src tests bench notebooks

bench: install ## Run every benchmark on this machine (prints side-by-side ratios)
	$(PY) bench/run_all.py

clean: ## Remove the venv, caches, generated data and run outputs
	rm -rf $(VENV) .pytest_cache .ruff_cache logs outputs multirun exports
	find . -name __pycache__ -prune -exec rm -rf {} +
	find data -mindepth 1 ! -name README.md -prune -exec rm -rf {} +
