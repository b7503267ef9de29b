# The README's two commands are `make demo` and `make test`; each creates its own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: set up and run the demo warehouse end to end on the embedded default (DuckDB, SQLite state)
demo: $(STAMP)
	$(BIN)/datakit --project examples/pagila validate
	rm -rf .demo && $(BIN)/datakit demo .demo/datakit-demo

## test: set up and run the whole test suite (lint, types, layers, tests)
test: $(STAMP) lint
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python bench/validate_speed.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/rest.py
	$(BIN)/python bench/executor.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
