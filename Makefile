# Faultyard. `make help` lists the targets; every target that needs the
# project installed depends on `setup`, so on a fresh machine `make test`
# alone does all the set-up.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# rq-exporter needs redis<6 (the shop uses redis 8): it gets a venv of its own.
RQ_EXPORTER_VENV := .venv-rq-exporter
RQ_EXPORTER_STAMP := $(RQ_EXPORTER_VENV)/.installed-stamp
# Debian packages the native stack runs: the PostgreSQL server, redis-server.
DEBIAN_PACKAGES := postgresql redis-server
# Monitoring: Prometheus (and promtool) and the standard exporters.
DEBIAN_PACKAGES += prometheus prometheus-postgres-exporter prometheus-redis-exporter
# Compose: Debian's docker-compose validates compose/ without an engine (tests/compose).
DEBIAN_PACKAGES += docker-compose
# The console's browser tests: headless Chromium driven through chromedriver (selenium).
DEBIAN_PACKAGES += chromium chromium-driver
# The console's charts (uPlot) come from the npm registry: npm ci, pinned by package-lock.json.
CONSOLE_DIR := chaos/console
CONSOLE_STAMP := $(CONSOLE_DIR)/node_modules/.package-lock.json

.DEFAULT_GOAL := help
.PHONY: help setup system-packages up down status logs test test-fast lint format lock bench bench-proxy bench-overhead bench-calls scenario clean
.PHONY: compose-config compose-up compose-down

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: system-packages $(STAMP) $(RQ_EXPORTER_STAMP) $(CONSOLE_STAMP) ## Install what is missing: Debian packages (when root), the venvs, the console's uPlot, the project

system-packages:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
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

$(RQ_EXPORTER_STAMP): requirements-rq-exporter.txt
	@test -x $(RQ_EXPORTER_VENV)/bin/python || $(PYTHON) -m venv $(RQ_EXPORTER_VENV)
	$(RQ_EXPORTER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-rq-exporter.txt
	@touch $(RQ_EXPORTER_STAMP)

$(CONSOLE_STAMP): $(CONSOLE_DIR)/package.json $(CONSOLE_DIR)/package-lock.json
	npm ci --prefix $(CONSOLE_DIR) --no-audit --no-fund --loglevel=error
	@touch $(CONSOLE_STAMP)

up: setup ## Start the native stack (PostgreSQL, Redis, proxy, shop, RQ workers, relay, Prometheus, exporters) on 127.0.0.1
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

bench: bench-proxy bench-overhead bench-calls ## Run every benchmark (results in results/)

bench-proxy: setup ## pgbench direct vs through the embedded proxy, and a 100 ms latency toxic
	$(BIN)/python -m chaos.bench.proxy

bench-overhead: setup ## Shop throughput (catalog, checkout) with all instrumentation on vs off
	$(BIN)/python -m chaos.bench.overhead $(ARGS)

bench-calls: setup ## Python calls a shop request makes with all instrumentation on vs off (exact, no load)
	$(BIN)/python -m chaos.bench.calls

lint: setup ## ruff check and format check, and the import contracts (lint-imports: layers, the shop's public face)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

format: setup ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: setup ## Re-pin constraints.txt from the venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

.PHONY: load
load: setup ## Locust's web UI on 127.0.0.1:8089 driving shoppers at the stack (started if down; ARGS="--headless --run-time 30s")
	$(BIN)/faultyard up
	$(BIN)/python -m chaos load $(ARGS)

# `make scenario NAME`: the word after `scenario` is the scenario's name, not a target;
# a do-nothing rule for it keeps make from failing on it. FIXED=1 adds --fixed, ARGS more options.
ifeq (scenario,$(firstword $(MAKECMDGOALS)))
SCENARIO_NAME := $(word 2,$(MAKECMDGOALS))
ifneq (,$(SCENARIO_NAME))
$(eval $(SCENARIO_NAME): ; @:)
endif
endif
FIXED_FLAG = $(if $(filter 1 yes true,$(FIXED)),--fixed)

scenario: setup ## Run a scenario end to end: make scenario NAME [FIXED=1] [ARGS="--users 10"]; alone, list them
	@if [ -z "$(SCENARIO_NAME)" ]; then \
	  $(BIN)/faultyard list; echo "usage: make scenario NAME [FIXED=1]" >&2; exit 2; \
	fi
	$(BIN)/faultyard scenario $(SCENARIO_NAME) $(FIXED_FLAG) $(ARGS)

.PHONY: crash-test
crash-test: setup ## Kill scenario runs with SIGKILL at 20 seeded points; reset or the next preflight must leave nothing (ARGS="--points 5 --seed 3")
	$(BIN)/python -m chaos.crashtest --summary results/crash-test.md $(ARGS)

.PHONY: drill answer gameday
drill: setup ## Practise on call: shoppers, a hidden fault (or none) after a quiet while, a page (ARGS="--seed 7 --difficulty easy")
	$(BIN)/faultyard drill start $(ARGS)

answer: setup ## Answer the running drill: is something wrong, where, why; then `faultyard drill deploy-fix` or `end`
	$(BIN)/faultyard drill answer $(ARGS)

gameday: setup ## A seeded schedule of faults under load, then which alerts caught which fault (ARGS="--seed 7 --duration 20m --faults 3")
	$(BIN)/faultyard gameday $(ARGS)

.PHONY: soak-scenarios
N ?= 10
soak-scenarios: setup ## Every scenario's both modes N times in a row on a private stack (N=10; ARGS=--busy-core keeps a core busy)
	$(BIN)/python -m chaos.scenarios.soak --runs $(N) $(ARGS)

.PHONY: console-screenshot
console-screenshot: setup ## The console's overview over a db-latency run, photographed by headless Chromium (results/console-overview.png)
	$(BIN)/python -m chaos.console.screenshot --scenario db-latency --dashboard overview --out results/console-overview.png

.PHONY: regress
# `make regress`: the scenario catalogue as pytest items (chaos/regress/, `pytest -m chaos`).
# The path `scenarios` holds no tests: only the chaos items are collected, not tests/.
ifndef REGRESS_DIR
REGRESS_DIR := reports/regress-$(shell date +%Y%m%d-%H%M%S)
endif
regress: setup ## Every scenario with its fix on, as pytest items: JUnit XML, journal, score in reports/regress-*/ (ARGS="--chaos-mode bug")
	$(BIN)/python -m pytest scenarios -m chaos -v -p no:cacheprovider --junitxml=$(REGRESS_DIR)/junit.xml --chaos-report-dir=$(REGRESS_DIR) $(ARGS)

# The compose targets need the project (the CLI) but none of the native stack's Debian packages.
compose-config: $(STAMP) ## Regenerate compose/ from the native stack's settings (ports, proxies, scrape jobs)
	$(BIN)/python -m chaos.compose generate

compose-up: $(STAMP) ## The full stack in Docker: real Toxiproxy, Grafana, Prometheus, Jaeger, Locust UI (needs an engine)
	$(BIN)/python -m chaos.compose up

compose-down: $(STAMP) ## Stop the compose stack (VOLUMES=1 also removes its data)
	$(BIN)/python -m chaos.compose down $(if $(filter 1 yes true,$(VOLUMES)),--volumes)

clean: down ## Stop the stack and remove the venv and the state folder
	rm -rf $(VENV) $(RQ_EXPORTER_VENV) .faultyard
