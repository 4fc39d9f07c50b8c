# Faultyard. `make help` lists the targets; every target that needs the
# project installed depends on `setup`, so on a fresh machine `make test`
# alone does all the set-up.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the native stack runs: the PostgreSQL server, redis-server.
DEBIAN_PACKAGES := postgresql redis-server

.DEFAULT_GOAL := help
.PHONY: help setup system-packages up down status logs test test-fast lint format lock bench bench-proxy scenario clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: system-packages $(STAMP) ## Install what is missing: Debian packages (when root), the venv, the project

system-packages:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "Faultyard needs these Debian packages:$$missing"; \
	  echo "Install them with: sudo apt-get install -y$$missing"; \
	  exit 1; \
	fi; \
	echo "installing Debian packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

up: setup ## Start the native stack (PostgreSQL, Redis, shop, RQ workers, relay) on 127.0.0.1
	$(BIN)/faultyard up

down: ## Stop the native stack
	@if [ -x $(BIN)/faultyard ]; then $(BIN)/faultyard down; else echo "nothing installed, nothing running"; fi

status: setup ## Show each service's health
	$(BIN)/faultyard status

logs: setup ## Show the last lines of every service's log
	$(BIN)/faultyard logs

test: setup ## Run the whole test suite (starts a private stack on free ports)
	$(BIN)/python -m pytest

test-fast: setup ## Run the tests not marked slow
	$(BIN)/python -m pytest -m "not slow"

bench: bench-proxy ## Run every benchmark (results in results/)

bench-proxy: setup ## pgbench direct vs through the embedded proxy, and a 100 ms latency toxic
	$(BIN)/python -m chaos.bench.proxy

lint: setup ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: setup ## Re-pin constraints.txt from the venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

scenario: ## (not built yet) Run a scenario end to end: make scenario NAME
	@echo "The scenario runner is not built yet; see README.md, 'Status'." >&2; exit 2

clean: down ## Stop the stack and remove the venv and the state folder
	rm -rf $(VENV) .faultyard
