# ContactPoint: `make run` serves the demo, `make test` runs every check. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python 3.11 or 3.12 on the PATH (pgserver ships wheels for those).
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
DEMO_CHILDREN ?= 10000
STATIC_SOURCES := $(shell find static frontend -type f 2>/dev/null)

.PHONY: help run test setup lint typecheck check-migrations pytest system-packages db-stop clean loadtest faulttest

help:
	@echo "make run    set up everything, load demo data and serve on http://127.0.0.1:8000/"
	@echo "make test   set up everything, then lint, type checks, migration check and the whole suite"
	@echo "make loadtest  load test with 1,000,000 demo children (not part of make test)"
	@echo "make faulttest PostgreSQL stopped and started under load (not part of make test)"
	@echo "make db-stop   stop the embedded PostgreSQL server"
	@echo "make clean     stop it, and remove .venv/, node_modules/ and built assets (not var/pgdata/)"

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "ContactPoint needs Python 3.11 or 3.12 on the PATH." >&2; exit 1; fi
	scripts/ensure-system-packages python-venv
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	scripts/ensure-system-packages node
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/static/.built: node_modules/.installed $(STATIC_SOURCES)
	node frontend/build.mjs
	touch $@

var/staticfiles/staticfiles.json: build/static/.built $(VENV)/.installed $(STATIC_SOURCES)
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

setup: $(VENV)/.installed var/staticfiles/staticfiles.json

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py audit_partitions
	$(BIN)/python manage.py seed_demo --children $(DEMO_CHILDREN) --if-empty
	@echo "ContactPoint is starting on http://127.0.0.1:8000/ (Ctrl+C stops it)."
	$(BIN)/gunicorn -c contactpoint/gunicorn.conf.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy .

check-migrations: setup
	$(BIN)/python manage.py makemigrations --check --dry-run

pytest: setup
	scripts/ensure-system-packages chromium
	$(BIN)/pytest

test: lint typecheck check-migrations pytest

# Not part of make test: about 6 and 2 minutes, plus about 10 to load 1,000,000 demo children once.
loadtest: setup
	$(BIN)/python manage.py migrate --noinput
	scripts/loadtest load

faulttest: setup
	$(BIN)/python manage.py migrate --noinput
	scripts/loadtest fault

db-stop: $(VENV)/.installed
	$(BIN)/python -m contactpoint.database stop

# Stops the embedded PostgreSQL only if the virtual environment that runs it is there: with
# none, no server of this checkout can be running, and building one just to delete it is waste.
clean:
	if [ -x $(BIN)/python ]; then $(BIN)/python -m contactpoint.database stop; fi
	rm -rf $(VENV) node_modules build var/staticfiles
