# The README's two commands are `make demo` and `make test`; each sets up the virtualenv it needs:
# the demo only datakit itself, the tests also the dev tools, Airflow and Prefect (tests/integrations).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
STAMP := $(VENV)/.installed

.PHONY: demo test docs lint format bench clean platform-up platform-down integration

$(BASE): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(BIN)/pip install --quiet -e '.[dev,docs,airflow,openlineage,prefect,spark]'
	touch $(STAMP)

## demo: set up and run the demo warehouse end to end on the embedded default (DuckDB, SQLite state)
demo: $(BASE)
	$(BIN)/datakit --project examples/pagila validate
	rm -rf .demo && $(BIN)/datakit demo .demo/datakit-demo

## test: set up and run the whole test suite (lint, types, layers, tests)
test: $(STAMP) lint
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

## docs: build the documentation site into site/ (strict: a broken link or any warning fails the build)
# (the two variables silence banners about MkDocs 2 and Material's end of life that plugins print)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict --site-dir site

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
	$(BIN)/python bench/warehouse.py
	$(BIN)/python bench/airflow_compile.py
	$(BIN)/python bench/prefect.py
	$(BIN)/python bench/dag_svg.py
	$(BIN)/python bench/demo_source.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/soak.py --minutes 1
	$(BIN)/python bench/masking.py
	$(BIN)/python bench/docs.py
	$(BIN)/python bench/transforms.py
	$(BIN)/python bench/warehouse_vs_peers.py --scales 1 --rounds 1

## platform-up / integration / platform-down: the platform of deploy/compose.yaml on this machine, without
## Docker (deploy/bin/): start PostgreSQL and Redis if they are down, create the platform's roles and
## databases (named after PLATFORM_PREFIX, default datakit), run the integration tests against them, then
## drop what platform-up created and stop only what it started. PostgreSQL admin: PGHOST/PGUSER/... (default
## postgres@127.0.0.1).
platform-up:
	deploy/bin/platform-up

integration: $(STAMP)
	PYTEST=$(BIN)/pytest deploy/bin/integration-tests $(PYTEST_ARGS)

platform-down:
	deploy/bin/platform-down

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
