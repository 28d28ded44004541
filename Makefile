# partparse: `make test` and `make demo` work from a fresh clone (they create .venv and install first).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test test-all demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Lint (ruff: pyflakes, pycodestyle, bugbear, pyupgrade, import order; [tool.ruff] in pyproject.toml), then
# the fast suite (slow-marked tests are skipped); fails when no test is collected (pytest exit code 5).
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/partparse demo --out demo_out

bench: $(STAMP)
	$(PY) benchmarks/bench_metric.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
