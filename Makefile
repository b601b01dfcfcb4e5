# Two commands: `make demo` (install, generate, run everything through Dagster, summarise) and
# `make test`. Everything else is here for everyday work.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export RETENTION_HOME ?= $(CURDIR)
export DAGSTER_HOME ?= $(RETENTION_HOME)/.dagster_home
# Other paths default inside RETENTION_HOME (ingestion/settings.py); tests ignore all of them.
WAREHOUSE ?= $(RETENTION_HOME)/data/warehouse.duckdb
DBT := cd dbt_project && ../$(BIN)/dbt
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' -o -name '*.md' \) -print)

.PHONY: demo test test-browser install manifest ui lint format docs clean dagster-home validate

demo: install manifest dagster-home
	$(BIN)/retention demo

test: install manifest dagster-home
	$(BIN)/pytest -q

# The Dagster UI in headless Chromium (Debian's `chromium` package); leaves artifacts/*.png.
test-browser: install manifest
	$(BIN)/pytest -q -m browser tests/test_browser.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	# Test data only: the CDNOW sample ships in this wheel; its code is never imported.
	$(BIN)/pip install --quiet --no-deps 'lifetimes==0.11.3'
	touch $@

install: $(VENV)/.installed

# The manifest is built ahead of time so the code location never parses dbt on load; a new
# model or YAML file rebuilds it.
$(MANIFEST): $(DBT_SOURCES) | $(VENV)/.installed
	$(DBT) parse --profiles-dir . --quiet
	touch $@

manifest: $(MANIFEST)

dagster-home:
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true

ui: install manifest dagster-home
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

validate: install manifest dagster-home
	$(BIN)/dagster definitions validate -m orchestration.definitions

docs: install manifest
	mkdir -p $(dir $(WAREHOUSE))
	cd dbt_project && RETENTION_WAREHOUSE=$(WAREHOUSE) ../$(BIN)/dbt docs generate --profiles-dir .
	@echo "dbt docs: dbt_project/target/index.html (serve: cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir .)"

lint: install manifest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	RETENTION_WAREHOUSE=$(CURDIR)/$(VENV)/sqlfluff.duckdb $(BIN)/sqlfluff lint dbt_project/models

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	RETENTION_WAREHOUSE=$(CURDIR)/$(VENV)/sqlfluff.duckdb $(BIN)/sqlfluff fix dbt_project/models

clean:
	rm -rf data $(DAGSTER_HOME) dbt_project/target dbt_project/logs

# Benchmark (not part of `make test`): `make bench SF=1`, `make bench SF=10 REPEATS=1 WARMUPS=0`;
# results in bench/results/.
SF ?= 0.1
REPEATS ?= 3
WARMUPS ?= 1
.PHONY: bench
bench: install manifest
	$(BIN)/retention bench --sf $(SF) --repeats $(REPEATS) --warmups $(WARMUPS)
