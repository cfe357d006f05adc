# Ensemble: every command you need. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
export UV_PYTHON := 3.11

.PHONY: help bootstrap run run-postgres test test-fast lint contracts bench kafka-start kafka-stop clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## install uv (pinned) and the locked workspace into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --locked --quiet

run: bootstrap ## start Kafka, the four services and a live demo feed (Ctrl-C stops it all)
	uv run ensemble-local run

run-postgres: bootstrap ## the same, with one PostgreSQL database per service
	uv run ensemble-local run --store postgresql

# One pytest run per package, as each is deployed alone: each service's `tests` package stays
# its own, and a test cannot lean on another package's fixtures.
TEST_PACKAGES := contracts libs/runtime services/hospital-feed services/scoring \
	services/referral services/scheduling tests
PYTEST_ARGS ?=

test: bootstrap lint ## lint, then every test tier on real Kafka, SQLite and PostgreSQL
	@set -e; for package in $(TEST_PACKAGES); do \
		echo "=== $$package"; uv run pytest $$package $(PYTEST_ARGS); done

test-fast: bootstrap ## unit tests only (no broker, no PostgreSQL)
	@set -e; for package in $(TEST_PACKAGES); do \
		uv run pytest $$package -q -m "not kafka and not postgres and not e2e" || [ $$? = 5 ]; done

lint: bootstrap ## ruff, mypy and the contract-drift check
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy
	uv run ensemble-contracts-generate --check

contracts: bootstrap ## regenerate JSON Schemas and the AsyncAPI document from the models
	uv run ensemble-contracts-generate

bench: bootstrap ## benchmark the pipeline against raw Kafka; writes run/bench/report.md
	uv run ensemble-local bench --admissions $${ADMISSIONS:-2000}

kafka-start: ## start the local Kafka broker only (run/kafka, port 9092)
	deploy/kafka/kafka.sh start

kafka-stop: ## stop the local Kafka broker
	deploy/kafka/kafka.sh stop

clean: ## remove generated state (run/), keeping the Kafka download cache
	-deploy/kafka/kafka.sh stop
	rm -rf run .pytest_cache .mypy_cache .ruff_cache
