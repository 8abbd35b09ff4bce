# One target for each thing a person does. `make run` and `make test` set up everything
# they need (virtualenv, packages, Kafka jars, PostgreSQL) and are safe to run again.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK := bash deploy/stack.sh
WITH_STACK := set -a; source .stack/env; set +a;
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
PYTEST_ARGS ?=

.PHONY: help venv stack-up stack-down stack-status migrate promtool run test schemas-check lint format bench soak clean

help:
	@echo "make run         local stack up, migrations and partitions, consumer in the foreground (Ctrl-C stops)"
	@echo "make test        contract check, local stack up, then every test but the soak"
	@echo "make schemas-check  the event contract against the released one (schemas/baseline)"
	@echo "make lint        ruff and mypy"
	@echo "make bench       the benchmark (figures and ceilings, JSON in bench-results/)"
	@echo "make soak        long crash and load scenarios"
	@echo "make promtool    install promtool (checks the alert rules; make test does it)"
	@echo "make stack-down  stop Kafka and PostgreSQL started by the stack script"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

migrate: venv stack-up
	$(WITH_STACK) $(BIN)/utxoiq db upgrade
	$(WITH_STACK) $(BIN)/utxoiq db maintain

# promtool checks the alert rules in deploy/prometheus (a test runs it); Debian ships it
# in the prometheus package.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing promtool (Debian package prometheus) with apt-get (one-time)"; \
	  $(APT) update -q >/dev/null && \
	  $(APT) install -y -q --no-install-recommends prometheus >/dev/null; }

run: migrate
	$(WITH_STACK) exec $(BIN)/utxoiq consume

schemas-check: venv
	$(BIN)/utxoiq schemas check --baseline schemas/baseline

test: schemas-check migrate promtool
	$(WITH_STACK) $(BIN)/pytest -m "not soak" $(PYTEST_ARGS)

soak: migrate
	$(WITH_STACK) $(BIN)/pytest -m soak $(PYTEST_ARGS)

bench: migrate
	$(WITH_STACK) $(BIN)/utxoiq bench $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy consumer schemas tests scripts

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
