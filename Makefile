# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-django test test-fast lint bench cluster cluster-down setup postgres binaries clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

postgres:
	scripts/ensure-postgres.sh

binaries: $(STAMP)
	$(PY) -m devcluster build

demo: binaries
	scripts/demo.sh

demo-django: setup
	scripts/demo-django.sh

test: setup postgres binaries
	$(PY) -m pytest

test-fast: setup postgres
	$(PY) -m pytest -m "not e2e"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tenant_app operator/tenant_operator devcluster bench

bench: setup postgres
	$(PY) -m bench

cluster: binaries
	$(PY) -m devcluster up

cluster-down: setup
	$(PY) -m devcluster down

clean:
	rm -rf $(VENV) example/var .pytest_cache .mypy_cache .ruff_cache
