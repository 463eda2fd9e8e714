# Quick start: `make demo` serves demo data, `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
# Numbers of contracts for `make bench-scan`, separated by commas.
CONTRACTS ?= 100000,1000000
# Number of contracts for `make bench-reports`.
REPORT_CONTRACTS ?= 1000000

.PHONY: demo test test-sqlite test-postgres install schema lint bench bench-scan bench-audit \
	bench-reports

$(BIN)/contractgql: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(BIN)/contractgql

install: $(BIN)/contractgql

demo: install
	$(BIN)/contractgql serve --demo

test: test-sqlite test-postgres

test-sqlite: install
	CONTRACTGQL_TEST_BACKEND=sqlite $(BIN)/pytest

test-postgres: install
	CONTRACTGQL_TEST_BACKEND=postgres CONTRACTGQL_TEST_POSTGRES_URL=$(POSTGRES_URL) \
		$(BIN)/pytest

schema: install
	$(BIN)/python -m contractgql.graphql.sdl > schema.graphql

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench

bench-scan: install
	$(BIN)/python -m bench.scan --contracts $(CONTRACTS) --phases

bench-reports: install
	$(BIN)/python -m bench.reports --contracts $(REPORT_CONTRACTS)

bench-audit: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.audit
