# Two commands: `make run` (demo service) and `make test` (the whole suite). Every MASHANG_* variable in
# the environment (or .env) is honoured; nothing here overrides them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/mashang migrate
	$(BIN)/mashang demo
	$(BIN)/mashang serve

test: install-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check app tests bench migrations

bench: install-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache
