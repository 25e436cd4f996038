# One command each, on a fresh machine: `make demo` (the main job on the bundled digits
# dataset, offline), `make test` (the test suite) and `make test-fast` (the suite without
# the `slow` and `subprocess` tests: real-MNIST training, benchmark runs, and the CLI,
# examples and benchmarks run in fresh interpreters). Each creates .venv and installs what
# they need first. torch==2.13.0 is installed before the package so that pip keeps that
# build instead of pulling the newest CUDA one.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install demo test test-fast lint bench-quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/sknn-mnist compare --dataset digits --quick

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not subprocess"

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
