# The commands people type. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

PYTEST_ARGS ?=

.PHONY: help bootstrap test check fmt lint typecheck

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

bootstrap: ## install Python packages and Mosquitto (skips what is up to date)
	@infrastructure/scripts/bootstrap.sh all

test: bootstrap ## run the whole test suite (unit, integration, local cloud)
	$(BIN)/pytest $(PYTEST_ARGS)

fmt: bootstrap ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: bootstrap ## check formatting and lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: bootstrap ## mypy strict on the packages
	$(BIN)/mypy

check: lint typecheck test ## everything CI checks: format, lint, types, tests
