# One command each, on a fresh machine: `make demo` (the main job on the bundled digits
# dataset, offline), `make test` (the test suite) and `make test-fast` (the suite without
# the `slow` and `subprocess` tests: real-MNIST training, benchmark runs, and the CLI,
# examples and benchmarks run in fresh interpreters). Each creates .venv first. `make demo`
# installs the package and its own dependencies only; `make test`, `test-fast` and `lint`
# add the test extras (pytest, ruff, ONNX, Dask, the image and page dependencies: about
# 50 more distributions). torch==2.13.0 is pinned in the package's install so that pip keeps that build
# instead of pulling the newest CUDA one.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# --no-compile: pip would byte-compile every module it installs (torch alone: 20 s of the
# install on 2 cores); Python compiles the ones a command imports, once, when it first runs.
PIP := $(BIN)/python -m pip install --quiet --no-compile

.PHONY: install install-test demo test test-fast lint clean

# The package, editable, with what `sknn-mnist` needs (pyproject's dependencies).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH)" -e .
	touch $@

# The test extras on top (pytest, ruff, onnx, onnxruntime, dask, pandas, selenium, ...).
$(BIN)/.installed-test: $(BIN)/.installed
	$(PIP) -e ".[test]"
	touch $@

install: $(BIN)/.installed

install-test: $(BIN)/.installed-test

demo: install
	$(BIN)/sknn-mnist compare --dataset digits --quick

test: install-test
	$(BIN)/python -m pytest

test-fast: install-test
	$(BIN)/python -m pytest -m "not slow and not subprocess"

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
