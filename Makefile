# Backprop Lab: every target sets up .venv by itself on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8888

.PHONY: lab demo test check coverage setup browser-deps sandbox-deps clean

setup: $(STAMP)

# torch first, pinned, from PyTorch's CPU wheel index (as binder/requirements.txt): the default index's Linux
# wheel is the multi-GB CUDA build. Where that index is unreachable (an offline mirror), the default index.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

# Every Jupyter server of .venv (the instructors' formgrader too) loads backproplab.kernel_polling: a config file in
# .venv's config.d (binder/postBuild installs the same file on Binder).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --retries 1 --timeout 30 --index-url $(TORCH_INDEX) torch==2.13.0 \
		|| $(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	install -D -m 644 binder/jupyter_server_config.d/backproplab.json \
		$(VENV)/etc/jupyter/jupyter_server_config.d/backproplab.json
	$(VENV)/bin/jupyter labextension list 2>&1 | grep -qi nbgrader
	touch $(STAMP)

# JupyterLab refuses to run as root (containers, Binder-like VMs) without --allow-root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# Students' JupyterLab: binder/jupyter-student/ joins Jupyter's config path (after the user's own ~/.jupyter,
# which it leaves alone): no news pop-up, none of nbgrader's instructor parts (Create Assignment, Formgrader,
# Course List); Validate stays. binder/postBuild does the same on Binder. Instructors run .venv/bin/jupyter lab.
STUDENT_CONFIG := $(CURDIR)/binder/jupyter-student

lab: $(STAMP)
	JUPYTER_CONFIG_PATH="$(STUDENT_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(VENV)/bin/jupyter lab --notebook-dir=course --port=$(PORT) $(ROOT_FLAG)

demo: $(STAMP) sandbox-deps
	$(VENV)/bin/bplab demo

browser-deps:
	scripts/ensure-chromium

# the grading sandbox (bubblewrap): `make demo` and `make test` grade inside it
sandbox-deps:
	scripts/ensure-bwrap

# The fast subset, for every edit: the linter, then the tests that start no kernel, browser or nbgrader
# (`make check TESTS="tests/test_catalogs.py tests/test_lectures.py"` narrows it to some files).
TESTS ?= tests

# Property tests draw the same examples on every run of these targets (the "ci" profile in tests/conftest.py;
# `make check` draws 10 per property, its "check" profile), so CI cannot fail at random; a plain `pytest`
# explores new examples.
export HYPOTHESIS_PROFILE ?= ci

# --dist loadgroup: tests marked with the same xdist_group run on one worker, which computes what they share once
# (tests/catalog_helpers.py's variant_verdicts); the others are handed out one by one.
# PYTHONDONTWRITEBYTECODE= : even where the environment turns bytecode caching off, keep pytest's rewritten test
# modules and the library's bytecode (in __pycache__ folders, ignored by git): without them each xdist worker, and
# each process `make test` starts, compiles them again (about 2 CPU seconds per worker and run).
check: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONDONTWRITEBYTECODE= HYPOTHESIS_PROFILE=check $(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider \
		-m "not slow and not browser" $(TESTS)

# Three xdist workers on two cores: many tests wait (deadlines, servers, the browser, a sandbox's kernels) and a
# third worker fills those waits (measured on 2 cores: 491 s against about 540 s with two); a fourth only
# contends (532 s, the CPU 99.7% busy).
TEST_RUN := PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n 3 --dist loadfile --durations=15 tests

test: $(STAMP) browser-deps sandbox-deps
	$(TEST_RUN)

# The same suite with line coverage of backproplab, also in the bplab processes and Dask workers the tests
# start (a third more CPU, so not part of `make test`); fails under 90%.
coverage: $(STAMP) browser-deps sandbox-deps
	$(TEST_RUN) --cov=backproplab --cov-report=term:skip-covered --cov-fail-under=90

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
