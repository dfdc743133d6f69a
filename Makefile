PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_DIR := tests/conformance/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set up a virtualenv and serve the API on 127.0.0.1:8080 (data under ./.taxiway/).
run: $(STAMP)
	$(BIN)/taxiway serve

# The official Node SDK, for the conformance suite (its tests skip where npm is missing).
$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
		cd $(NODE_DIR) && npm ci --silent --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the Node SDK conformance tests will be skipped"; fi

## Set up a virtualenv and run lint, type checks and the whole test suite (two workers, a file each:
## most tests wait on servers and subprocesses, and a file's fixtures stay in one worker).
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/api_overhead.py

clean:
	rm -rf $(VENV) .taxiway .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
