# The commands people type. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

PYTEST_ARGS ?=

# Settings such as `make deploy-local MACHINES=20` reach the deploy tooling (see
# `python -m deploy --help`) as environment variables: make exports what is given on
# its command line or in its environment. (An `export` line here would also export
# the unset ones, as empty strings.)

.PHONY: help bootstrap test check fmt lint typecheck bench deploy-local status logs watch down clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deploy-local: bootstrap ## build, start and deploy the whole stack, then print where it is
	$(BIN)/python -m deploy up

status: bootstrap ## each component's health and the reading count
	@$(BIN)/python -m deploy status

logs: bootstrap ## follow all logs, or one: make logs C=simulator (or localcloud, mosquitto, ingest, api)
	@$(BIN)/python -m deploy logs $(C)

watch: bootstrap ## redeploy changes under functions/ to the running stack within 2 s
	$(BIN)/python -m deploy watch

down: ## stop everything, keep the data
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m deploy down; fi

clean: ## stop everything and delete the state folder
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m deploy clean; else rm -rf $${ORCHESTRALINK_STATE:-.state}; fi

bootstrap: ## install Python packages and Mosquitto (skips what is up to date)
	@infrastructure/scripts/bootstrap.sh all

test: ## run every test: unit, integration, local cloud, end to end, dashboard, browser
	@infrastructure/scripts/bootstrap.sh test
	@if [ -f frontend/package.json ]; then cd frontend && npm test --silent; fi
	$(BIN)/pytest $(PYTEST_ARGS)

bench: bootstrap ## benchmarks into results/ (about 5 min; FULL=1 for the long run)
	$(BIN)/python infrastructure/bench/report.py $(if $(filter 1 yes true,$(FULL)),--full)

fmt: bootstrap ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: bootstrap ## check formatting and lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/hadolint --failure-threshold info $$(git ls-files '*Dockerfile*' | grep -v dockerignore)

typecheck: bootstrap ## mypy strict on the packages
	$(BIN)/mypy

check: lint typecheck test ## everything CI checks: format, lint, types, tests
