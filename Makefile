PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two stamps share one virtualenv: serving needs only the package; tests add the dev tools and the GPU
# extra (the CPU build of torch runs the diffusers engines' tests). A test install serves too.
SERVE_STAMP := $(VENV)/.serve-installed
STAMP := $(VENV)/.installed

NODE_DIR := tests/conformance/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,gpu]'
	touch $(STAMP) $(SERVE_STAMP)

## Set up a virtualenv with what serving needs and serve the API on 127.0.0.1:8080 (data under ./.taxiway/).
run: $(SERVE_STAMP)
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
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=25

bench: $(STAMP)
	$(BIN)/python bench/api_overhead.py

clean:
	rm -rf $(VENV) .taxiway .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
