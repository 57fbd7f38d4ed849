# The course's commands. `make run` and `make test` set everything up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Two stamps: lessons need the runtime packages only; tests and JupyterLab add the dev extras.
# Both install the exact tested set: requirements/lock.txt (CONTRIBUTING.md: updating the lock).
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
# make test-lowest: the lowest versions pyproject.toml allows, in a venv of their own
LOWEST_VENV := .venv-lowest
LOWEST_PY := $(LOWEST_VENV)/bin/python
# Extra pip options, e.g. PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_OPTIONS ?=
PYTEST_ARGS ?=

.PHONY: help setup assets run lint unit test test-more test-grader sandbox-tools test-lowest test-colab test-browser notebooks \
	csv-suite lab bench ci clean distclean hostile-unprivileged

help:
	@echo "make run        set up, fetch assets, run every lesson, write runs/latest/summary.md"
	@echo "make test       set up, fetch assets, lint, unit tests, every lesson under nbval, bands"
	@echo "make test-more  the lessons again on other data and settings, and the slow tests"
	@echo "make test-grader  the grader end to end: sandbox, limits, a hostile batch (as root)"
	@echo "make unit       the fast loop: tests that execute no notebook and are not slow (< 1 min)"
	@echo "make lint       ruff, and the import contracts of the two wings (import-linter)"
	@echo "make setup      create .venv with the locked packages (make run/test do it for you)"
	@echo "make assets     fetch the offline model and data into the cache"
	@echo "make test-lowest  unit tests and lessons 01, 03 (small) at the lowest allowed versions"
	@echo "make test-colab    lessons 01, 03 (small) in a Colab-like kernel that installs the course"
	@echo "make test-browser  lessons 01, 03 (small) run in JupyterLab by headless Chromium"
	@echo "make notebooks  re-execute the committed notebooks in place as a first run (ONLY=02,05)"
	@echo "make csv-suite  lessons 04 and 05 on CSVs of other shapes; prints the README's table"
	@echo "make ci         every CI job, each logged; one failure hides no other result"
	@echo "make lab        JupyterLab on the course's kernel"
	@echo "make bench      course recipes against the original recipes (QUICK=1 for a smoke run)"
	@echo "make clean      remove runs and caches made in this folder (keeps .venv and assets)"
	@echo "make distclean  clean, and remove .venv too"

$(RUNTIME_STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 10), "Python 3.10+ needed, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -c $(LOCK) -e '.[batch]'
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) $(LOCK)
	$(PY) -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

assets: $(RUNTIME_STAMP)
	$(PY) -m course_utils assets fetch

run: assets
	$(PY) -m course_utils run

lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

# The fast loop (CONTRIBUTING.md): no notebook, nothing slow; `make unit PYTEST_ARGS=--lf` reruns
# what failed last.
unit: assets $(STAMP)
	$(PY) -m pytest -q -m "not notebook and not slow and not kernel" tests/unit $(PYTEST_ARGS)

# The README's test command: lint, the unit tests, the homework checks, every lesson once under
# nbval (its stored outputs) and the bands of those runs. CI also runs the jobs below (make ci).
test: assets $(STAMP) lint
	$(PY) -m pytest -m "not slow and not grader and not more" $(PYTEST_ARGS)

# The lessons run again on other data and settings (another CSV, sockets blocked, the full
# profile's hub loading, the stand-ins), and the slow tests (the benchmarks' quick run).
test-more: assets $(STAMP)
	$(PY) -m pytest -m "(more or slow) and not grader" tests $(PYTEST_ARGS)

# The grader end to end: grading with workers and Dask, the sandbox's limits, and the hostile
# batch as root (hostile-unprivileged runs that batch again as another user).
test-grader: assets $(STAMP) sandbox-tools
	$(PY) -m pytest -m grader tests/homework $(PYTEST_ARGS)

# The homework grader's sandbox (bubblewrap): installed when missing, as root with apt-get;
# otherwise the grading tests fail with the command that installs it.
sandbox-tools:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq bubblewrap; } || \
		echo "bwrap is missing: apt-get install -y bubblewrap (as root) for the grading tests"

# The hostile grading suite again, as an unprivileged user it creates (run as root, as CI does):
# tests/homework/run_unprivileged.sh says what it changes and restores.
hostile-unprivileged: assets $(STAMP) sandbox-tools
	bash tests/homework/run_unprivileged.sh $(PYTEST_ARGS)

# The lowest versions pyproject.toml allows for every direct dependency (torch as locked: the only
# build on the course's machines), resolved by uv, in $(LOWEST_VENV): the unit and homework tests,
# then lessons 01 and 03 on their small parameters. Its grading tests grade in the sandbox, so
# it installs bubblewrap like test-grader (CI's tools lane runs it first, on a bare machine). The
# sandbox's limits and the hostile batch test bubblewrap and the kernel, not a Python package's
# version: make test-grader and hostile-unprivileged run them. Rebuilt when the bounds or the
# lock change.
UV_OPTIONS ?= $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
$(LOWEST_VENV)/.installed: pyproject.toml $(LOCK) | $(STAMP)
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	grep '^torch==' $(LOCK) > $(LOWEST_VENV)/torch.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra batch --extra grade --extra test -q \
		--resolution lowest-direct --override $(LOWEST_VENV)/torch.txt --python $(LOWEST_PY) \
		--no-header $(UV_OPTIONS) -o $(LOWEST_VENV)/lowest.txt
	$(LOWEST_PY) -m pip install --disable-pip-version-check -q $(PIP_OPTIONS) \
		-r $(LOWEST_VENV)/lowest.txt
	$(LOWEST_PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	$(LOWEST_PY) -m pip freeze > $(LOWEST_VENV)/freeze.txt
	touch $@

test-lowest: assets $(LOWEST_VENV)/.installed sandbox-tools
	$(LOWEST_PY) -m pytest -m "not notebook and not slow and not more" tests/unit tests/homework \
		--ignore=tests/homework/test_hostile.py --ignore=tests/homework/test_homework_sandbox.py \
		$(PYTEST_ARGS)
	COURSE_ARTIFACTS=runs/lowest/artifacts \
	$(LOWEST_PY) -m course_utils run --only 01,03 --small --out runs/lowest

# A Colab-like runtime (older numpy, pandas, transformers, ...; cached in .venv-colab/): lessons
# 01 and 03 through its kernel, their set-up cell installing the course from a copy of this tree.
test-colab: assets $(STAMP)
	$(PY) -m pytest -m runtime tests/runtime/test_colab_like.py $(PYTEST_ARGS)

# Lessons 01 and 03 in JupyterLab, run through its menus by headless Chromium (Debian's package,
# installed when missing: needs root); screenshots in runs/browser/.
test-browser: assets $(STAMP)
	test -x /usr/bin/chromium || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	$(PY) -m pytest -m runtime tests/runtime/test_browser.py $(PYTEST_ARGS)

notebooks: assets
	$(PY) -m course_utils notebooks $(if $(ONLY),--only $(ONLY))

# Lessons 04 and 05 on every CSV of course_utils/tools/csv_suite.py
csv-suite: assets
	$(PY) -m course_utils.tools.csv_suite --out runs/csv-suite

lab: assets $(STAMP)
	$(PY) -m jupyter lab --allow-root --notebook-dir=notebooks

# QUICK=1: a smoke run into runs/bench-quick/ (README untouched); BENCH_ARGS for more options
bench: assets
	$(PY) benchmarks/run.py $(if $(QUICK),--quick,--update-readme) $(BENCH_ARGS)

# What CI runs (.ci/run): every job, each with its log and status, printed at the end.
ci:
	bash .ci/run

clean:
	rm -rf runs .pytest_cache build *.egg-info notebooks/.executing notebooks/runs
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(LOWEST_VENV) .venv-colab
