# movereg — the two README commands (`make demo`, `make test`) and friends.
# Every target installs what it needs into .venv, so they work on a fresh machine.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8765
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: demo test lint typecheck unit bench coverage-kernels browser-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## The main job: the dashboard with simulated wristbands on the embedded SQLite default.
demo: $(STAMP)
	$(BIN)/movereg demo --host $(HOST) --port $(PORT)

## Lint + type check + the whole test suite.
test: $(STAMP) browser-deps
	$(BIN)/ruff check src tests benchmarks validation
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks validation

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not browser"

## Speed and scale benchmarks (results in benchmarks/results/*.json).
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Line coverage of the Numba kernels, run as plain Python.
coverage-kernels: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m coverage run -m pytest -q tests/test_signal -m "not slow"
	$(BIN)/python -m coverage report --include='*/movereg/signal/*'

## Debian's Chromium for the browser tests (no downloaded browsers).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "browser-deps: could not install chromium; browser tests will be skipped"; \
	  else echo "browser-deps: chromium not found and cannot apt-get; browser tests will be skipped"; fi; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
