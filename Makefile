# Two entry points (README): `make run` and `make test`. Both create or update
# .venv from the pinned constraints, so a fresh clone needs only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint install lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mock-server $(ARGS)

# Doctests of both packages run with the suite (conformance/suite is the harness's
# pytest suite for users: it needs a target, so it is not collected here).
PYTEST_PATHS := tests mock_server conformance --doctest-modules --ignore=conformance/suite

# The whole suite, as CI runs it; prints how long it took (measured, not asserted).
test: $(STAMP)
	@date +%s > $(VENV)/.test-started
	$(MAKE) --no-print-directory lint
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_PATHS) $(PYTEST_ARGS)
	@echo "make test: passed in $$(( $$(date +%s) - $$(cat $(VENV)/.test-started) )) s"

# The edit-test loop: in-process tests only (no servers, no sockets), under a minute.
test-fast: $(STAMP)
	$(BIN)/pytest $(PYTEST_PATHS) -m "not e2e and not loopback" -q $(PYTEST_ARGS)

# What ARCHITECTURE.md and STYLE.md state, enforced: lint rules (incl. who may read
# the environment), formatting, and who may import whom (import-linter contracts).
lint: $(STAMP)
	$(BIN)/ruff check mock_server conformance tests
	$(BIN)/ruff format --check mock_server conformance tests
	$(BIN)/lint-imports

# Re-pin after changing dependencies in pyproject.toml: resolves in a scratch
# venv and writes every transitive version to constraints.txt.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
