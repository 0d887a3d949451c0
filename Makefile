# Every target installs what it needs: a fresh machine runs `make demo` or `make test` and nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test quick test-dovecot24 lint typecheck pytest pytest-compiled compiled bench fuzz \
	system-deps clean

demo: $(STAMP)
	@$(PY) scripts/system_deps.py --for demo
	$(PY) -m o365imap.sandbox.demo

test: system-deps $(STAMP) lint typecheck pytest pytest-compiled

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks fuzz
	$(VENV)/bin/ruff format --check src tests benchmarks fuzz

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The whole suite; hypothesis's ci profile (tests/conftest.py) runs each property in full.
pytest: system-deps $(STAMP)
	HYPOTHESIS_PROFILE=ci $(VENV)/bin/pytest $(PYTEST_ARGS)

# The parser's tests again, against the compiled hot path (scripts/compiled.py: mypyc, about
# 15 s of gcc, rebuilt only when a source changed); a machine that cannot compile says so and
# passes. The run above stays pure Python: that is the package everyone gets.
pytest-compiled: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PY) scripts/compiled.py --test

# The compiled hot path alone, in .cache/compiled/src: put it first on PYTHONPATH to use it.
compiled: $(STAMP)
	$(PY) scripts/compiled.py

# The unit layer, in under 30 s: no Dovecot, no browser, no long runs (pyproject's markers),
# hypothesis's dev profile (a tenth of the examples), and no system package needed.
quick: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(VENV)/bin/pytest -q -n auto -m "not dovecot and not browser and not slow" \
		$(PYTEST_ARGS)

# The Dovecot tests again against Dovecot 2.4 (Debian 13's, in a root built once by debootstrap
# and run through chroot), whatever the system's Dovecot is. Needs root. The tests' folders go
# below that root (--basetemp), where the chrooted Dovecot can see them.
DEBIAN13 := $(abspath .cache/debian13)
DOVECOT24_TESTS := tests/test_testbed.py tests/test_dovecot_versions.py \
	tests/test_client_dovecot.py tests/test_messages_dovecot.py \
	tests/test_signin.py::test_device_code_flow \
	tests/test_signin.py::test_a_script_opens_the_saved_profile \
	tests/test_signin.py::test_a_token_dovecot_rejects_gives_the_clear_error \
	tests/test_signin.py::test_the_sandbox_command_runs_until_ctrl_c \
	tests/test_sandbox_cmd.py tests/test_sandbox_smtp.py tests/test_send_sandbox.py \
	tests/test_tui_compose.py::test_a_reply_through_the_real_submission_server_lands_in_the_inbox_and_in_sent \
	tests/test_backup_export.py tests/test_backup_import.py

test-dovecot24: $(STAMP)
	$(PYTHON) scripts/debian_root.py --root $(DEBIAN13)
	O365IMAP_DOVECOT_ROOT=$(DEBIAN13) $(VENV)/bin/pytest --basetemp=$(DEBIAN13)/tmp/o365imap-pytest \
		$(DOVECOT24_TESTS) $(PYTEST_ARGS)

bench: system-deps $(STAMP)
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py

# Long coverage-guided runs of every fuzz target (a million parser inputs; see
# docs/reliability.md), the figures printed at the end. FUZZ_ARGS: --scale 0.1, --jobs 1,
# --targets imap,mime. `make test` runs each target for a few seconds (tests/test_fuzz.py).
fuzz: $(STAMP)
	$(PY) fuzz/run_all.py $(FUZZ_ARGS)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .cache/compiled
