# Quick start: `make demo` serves demo data, `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
# Numbers of contracts for `make bench-scan`, separated by commas.
CONTRACTS ?= 100000,1000000
# Number of contracts for `make bench-reports`.
REPORT_CONTRACTS ?= 1000000

.PHONY: demo test test-sqlite test-postgres test-long install schema lint fuzz bench bench-scan bench-audit \
	bench-imports bench-load bench-reports

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

# The tests marked `long`, which `make test` leaves out: load and scale runs of
# several server and worker processes, which need PostgreSQL.
test-long: install
	CONTRACTGQL_TEST_BACKEND=postgres CONTRACTGQL_TEST_POSTGRES_URL=$(POSTGRES_URL) \
		$(BIN)/pytest -m long

schema: install
	$(BIN)/python -m contractgql.graphql.sdl > schema.graphql

# Fuzzes every query and mutation once per role against a live server, with
# FUZZ_EXAMPLES random examples per operation, on FUZZ_BACKEND (sqlite or
# postgres). See docs/graphql-http.md.
FUZZ_EXAMPLES ?= 100
FUZZ_BACKEND ?= sqlite
fuzz: install
	CONTRACTGQL_FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) CONTRACTGQL_FUZZ_RANDOM=1 \
		CONTRACTGQL_TEST_BACKEND=$(FUZZ_BACKEND) \
		CONTRACTGQL_TEST_POSTGRES_URL=$(POSTGRES_URL) \
		$(BIN)/pytest tests/http/test_fuzz.py -s -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench

bench-scan: install
	$(BIN)/python -m bench.scan --contracts $(CONTRACTS) --phases

# Numbers of register rows for `make bench-imports`, separated by commas.
IMPORT_ROWS ?= 10000,100000

bench-imports: install
	$(BIN)/python -m bench.imports --rows $(IMPORT_ROWS) --postgres $(POSTGRES_URL)
bench-reports: install
	$(BIN)/python -m bench.reports --contracts $(REPORT_CONTRACTS)

bench-audit: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.audit

bench-load: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.mixed_load
