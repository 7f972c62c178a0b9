# Two entry points (README): `make run` and `make test`. Both create or update
# .venv from the pinned constraints, so a fresh clone needs only Python 3.11-3.13.
# PYTHON: the first of python3.11, python3.12, python3.13, python3 that runs and is
# in range (a pyenv shim may exist and not run); `make PYTHON=python3.13` picks one.
IN_RANGE := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do \
	$$p -c '$(IN_RANGE)' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint install lock clean check-python-versions redis-server wrk valgrind chromium prism bench

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "make: Python 3.11, 3.12 or 3.13 is needed, and none of" \
		"python3.11, python3.12, python3.13, python3 runs one; install one, or" \
		"make PYTHON=/path/to/python3.x" >&2; exit 1; }
	@$(PYTHON) -c '$(IN_RANGE)' 2>/dev/null || { echo "make: PYTHON=$(PYTHON)" \
		"($$($(PYTHON) -V 2>&1 | head -n 1)) is not Python 3.11, 3.12 or 3.13" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[conformance,test,bench]'
	$(BIN)/python -m compileall -q mock_server conformance
	touch $(STAMP)

# Bytecode compiled first (only what changed), as an installed package's is: an
# environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module each start.
run: $(STAMP)
	@$(BIN)/python -m compileall -q mock_server
	$(BIN)/mock-server $(ARGS)

# Doctests of both packages and of the benchmark run with the suite (conformance/suite is
# the harness's pytest suite for users: it needs a target, so it is not collected here).
PYTEST_PATHS := tests mock_server conformance bench --doctest-modules --ignore=conformance/suite
# One worker per core (pytest-xdist): every test is independent (a mock session or a
# target of its own), so the order and the split do not change any outcome.
PYTEST_WORKERS ?= auto

# The whole suite, as CI runs it; prints how long it took (measured, not asserted).
test: $(STAMP) redis-server wrk valgrind chromium prism
	@date +%s > $(VENV)/.test-started
	$(MAKE) --no-print-directory check-python-versions
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest $(PYTEST_PATHS) -n $(PYTEST_WORKERS) $(PYTEST_ARGS)
	@echo "make test: passed in $$(( $$(date +%s) - $$(cat $(VENV)/.test-started) )) s"

# The edit-test loop: in-process tests only (no servers, no sockets), under a minute.
# Redis is ensured all the same: the store's behaviour suite runs on every back-end.
test-fast: $(STAMP) redis-server
	$(BIN)/pytest $(PYTEST_PATHS) -m "not e2e and not loopback" -q $(PYTEST_ARGS)

# The tests start Redis servers of their own (tests/_redis.py) from Debian's
# redis-server: prints its path; installs it when missing and run as root with apt-get
# (as CI is: a clean clone), starting no service; else says in one line how, and fails.
redis-server:
	@tools/ensure_redis_server

# Debian's wrk, the benchmark's load generator: installed as redis-server is (root and
# apt-get, else one line saying how). `make test` runs the benchmark's smoke test with it.
wrk:
	@tools/ensure_wrk

# Debian's valgrind, for the benchmark's instruction counts (`python -m bench.instructions`):
# installed as redis-server is. `make test` runs the counter's smoke test with it.
valgrind:
	@tools/ensure_valgrind

# Debian's chromium, for the browser tests (tests/browser/: Playwright drives it, never a
# browser of Playwright's own): installed as redis-server is (root and apt-get, else one
# line saying how). Only `make test` runs those tests (they are marked e2e).
chromium:
	@tools/ensure_chromium

# Stoplight Prism, the peer the benchmark measures beside the mock (`--only prism`): npm's
# @stoplight/prism-cli, pinned with its dependencies in bench/prism/, installed with
# `npm ci` into .venv/prism (npm itself with apt-get when missing and run as root; else
# one line saying how). `make test` runs the benchmark's smoke test of it.
prism:
	@tools/ensure_prism

# The benchmark (not a test, never part of `make test`): the mock beside a bare handler
# on the same server (uvicorn, and Granian: the [bench] extra), per store and worker
# count, four paths under wrk (tools/ensure_wrk installs it as root), one table of
# medians (docs/performance.md). `make bench ARGS="--only memory-1 --repeat 1"`;
# `--help` says more.
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# What ARCHITECTURE.md and STYLE.md state, enforced: lint rules (incl. who may read
# the environment), formatting, and who may import whom (import-linter contracts).
lint: $(STAMP)
	$(BIN)/ruff check mock_server conformance tests tools bench
	$(BIN)/ruff format --check mock_server conformance tests tools bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every pin in constraints.txt installs from wheels on each Python the pyproject
# classifiers name (3.11-3.13, manylinux x86_64): a dry-run resolution per version,
# from .venv/wheelhouse when it holds the pins, else fetched from the indexes.
check-python-versions: $(STAMP)
	$(BIN)/python tools/check_python_versions.py

# Re-pin after changing dependencies in pyproject.toml: resolves in a scratch
# venv and writes every transitive version to constraints.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[conformance,test,bench]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .artifacts
