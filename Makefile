# The course's commands. `make run` and `make test` set everything up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: lessons need the runtime packages only; tests and JupyterLab add the dev extras.
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
# Extra pip options, e.g. PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_OPTIONS ?=
PYTEST_ARGS ?=

.PHONY: help setup assets run test notebooks lab bench clean distclean

help:
	@echo "make run        set up, fetch assets, run every lesson, write runs/latest/summary.md"
	@echo "make test       set up, fetch assets, run the whole test suite"
	@echo "make notebooks  re-execute the committed notebooks in place (offline profile)"
	@echo "make lab        JupyterLab on the course's kernel"
	@echo "make bench      course recipes against the original recipes (QUICK=1 for a smoke run)"
	@echo "make clean      remove runs and caches made in this folder (keeps .venv and assets)"
	@echo "make distclean  clean, and remove .venv too"

$(RUNTIME_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 10), "Python 3.10+ needed, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

assets: $(RUNTIME_STAMP)
	$(PY) -m course_utils assets fetch

run: assets
	$(PY) -m course_utils run

test: assets $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

notebooks: assets
	$(PY) -m course_utils notebooks

lab: assets $(STAMP)
	$(PY) -m jupyter lab --allow-root --notebook-dir=notebooks

# QUICK=1: a smoke run into runs/bench-quick/ (README untouched); BENCH_ARGS for more options
bench: assets
	$(PY) benchmarks/run.py $(if $(QUICK),--quick,--update-readme) $(BENCH_ARGS)

clean:
	rm -rf runs .pytest_cache build *.egg-info notebooks/.executing
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
