# Two commands: `make run` (demo service) and `make test` (the whole suite). Every MASHANG_* variable in
# the environment (or .env) is honoured; nothing here overrides them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench bench-lighthouse install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

# Node packages: axe-core for the browser tests (small, always); Lighthouse is an optional dependency that only
# `make bench-lighthouse` installs. Without npm the axe tests skip (and fail under CI=true).
NPM ?= npm

node_modules/.installed-test: package.json package-lock.json
	@if command -v $(NPM) >/dev/null 2>&1; then \
		$(NPM) ci --omit=optional --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the axe-core accessibility tests will be skipped"; fi

node_modules/.installed-bench: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@ node_modules/.installed-test

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/mashang migrate
	$(BIN)/mashang demo
	$(BIN)/mashang serve

test: install-test node_modules/.installed-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check app tests bench migrations

bench: install-test
	$(BIN)/python bench/run.py

bench-lighthouse: install-test node_modules/.installed-bench
	$(BIN)/python bench/bench_lighthouse.py

clean:
	rm -rf $(VENV) var .pytest_cache
