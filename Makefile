PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set up a virtualenv and serve the API on 127.0.0.1:8080 (data under ./.taxiway/).
run: $(STAMP)
	$(BIN)/taxiway serve

## Set up a virtualenv and run lint, type checks and the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/api_overhead.py

clean:
	rm -rf $(VENV) .taxiway .pytest_cache .mypy_cache .ruff_cache
