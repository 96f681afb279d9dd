# Retour: `make run` to try it, `make test` to check it. Needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: run install test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/retour migrate
	$(BIN)/retour demo
	$(BIN)/retour serve

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	rm -f $(VENV)/alembic-check.db
	RETOUR_DATABASE_URL=sqlite:///$(VENV)/alembic-check.db $(BIN)/alembic upgrade head
	RETOUR_DATABASE_URL=sqlite:///$(VENV)/alembic-check.db $(BIN)/alembic check

bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) retour.db retour.db-wal retour.db-shm var test-artifacts
