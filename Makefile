# Every target installs what it needs: a fresh machine runs `make demo` or `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench system-deps clean

demo: system-deps $(STAMP)
	$(PY) -m o365imap.sandbox.demo

test: system-deps $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: system-deps $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: system-deps $(STAMP)
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py

# Debian's Dovecot is the real IMAP peer of the tests and the sandbox; the script probes it
# with the project's own code, hence the venv.
system-deps: $(STAMP)
	@$(PY) scripts/system_deps.py

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
