# From a fresh clone with Python >= 3.10: `make demo` (set up, then the quick study end to end)
# and `make test` (set up, then every check CI runs). Each sets up .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch's CPU build; plain `pip install torch` would pull gigabytes of CUDA packages. No retries:
# where that index is unreachable, pip goes on at once with the other sources it is configured with.
# For an NVIDIA GPU: make TORCH_INDEX=https://download.pytorch.org/whl/cu126
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup system demo test check

setup: $(VENV)/.ready

$(VENV)/.ready: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 --index-url $(TORCH_INDEX) --retries 0
	$(BIN)/python -m pip install -q -e ".[dev,deploy]"
	touch $@

# The quick study (six short trials, a few minutes on 2 cores); MNIST is fetched into ./data
# on first use ($$TINYNAS_DATA or --data-dir point elsewhere).
demo: setup
	$(BIN)/tinynas search studies/tiny.toml
	$(BIN)/tinynas export tiny --out studies/tiny-best.json
	$(BIN)/tinynas report tiny --out studies/tiny-report.html
	@echo "open studies/tiny-report.html; retrain the pick: $(BIN)/tinynas retrain studies/tiny-best.json"

# What the end-to-end tests use for real: a PostgreSQL server and Chromium (Debian packages).
system:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v chromium >/dev/null; then \
	    sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
	        --no-install-recommends postgresql chromium >/dev/null; \
	fi

# Lint, format, the layer rule and types; then the end-to-end and unit suites in one pytest-xdist
# run, two tests at a time, each test process on one thread (tests/conftest.py): the end-to-end
# commands run on one thread, or one worker per core, so one test's gaps, processes starting,
# stopping or being waited for, are the other's; the short unit tests come last and are shared
# out as each process frees up (worksteal), so the last long end-to-end test leaves no core
# idle; more at once would oversubscribe a larger machine, each end-to-end test sizing its
# workers by the cores. Then, alone at PyTorch's default thread count, the unit tests whose
# sums depend on how threads split them.
THREAD_SENSITIVE = tests/unit/test_fused.py tests/unit/test_trainer.py
test: setup system check
	$(BIN)/python -m pytest -n 2 --dist worksteal tests/e2e tests/unit
	$(BIN)/python -m pytest $(THREAD_SENSITIVE)

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python .ci/function_length.py
