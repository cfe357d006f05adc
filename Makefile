# Ensemble: every command you need. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
export UV_PYTHON := 3.11

.PHONY: help bootstrap browser run run-postgres test test-fast test-rules lint contracts bench bench-quick bench-huddle bench-booking bench-scoring fuzz kafka-start kafka-stop clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

bootstrap: ## install uv (pinned) and the locked workspace into .venv
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --locked --quiet

run: bootstrap ## start Kafka, the four services and a live demo feed (Ctrl-C stops it all)
	uv run ensemble-local run

run-postgres: bootstrap ## the same, with one PostgreSQL database per service
	uv run ensemble-local run --store postgresql

# Each package is tested alone, as it is deployed alone: `uv sync --package` installs only that
# package, its dependencies and its `dev` group, so a test importing anything undeclared fails.
# The packages run in an environment of their own (.venv-packages), with their own broker and
# PostgreSQL ports, in parallel with the cross-service tests in tests/ on the whole workspace
# (.venv): the e2e tests mostly wait on processes and the broker, so the two overlap well on
# two cores. A new service under services/ is picked up as is.
TEST_PACKAGES := contracts libs/runtime libs/devkit $(sort $(wildcard services/*))
PYTEST_ARGS ?=
FAST := -q -m "not kafka and not postgres and not e2e"
PACKAGES_LOG := run/test-packages.log
PACKAGES_ENV := UV_PROJECT_ENVIRONMENT=.venv-packages ENSEMBLE_TEST_STATE=$(CURDIR)/run/test-packages \
	ENSEMBLE_TEST_KAFKA_PORT=$${ENSEMBLE_TEST_PACKAGES_KAFKA_PORT:-19392} \
	ENSEMBLE_TEST_POSTGRES_PORT=$${ENSEMBLE_TEST_PACKAGES_POSTGRES_PORT:-25533}

# $(call package_loop,<pytest arguments>): every package alone; exit code 5 (no test selected)
# counts as a pass.
define package_loop
	set -e; for dir in $(TEST_PACKAGES); do dist=$$(sed -n 's/^name = "\(.*\)"/\1/p' $$dir/pyproject.toml); \
		echo "=== $$dir ($$dist alone)"; uv sync --locked --quiet --package $$dist; \
		uv run --no-sync pytest $$dir $(1) || [ $$? = 5 ]; done
endef

# $(call each_package,<pytest arguments>): the package loop in the background (its output
# printed when it ends), tests/ in the foreground; fails when either fails.
define each_package
	@set -e; mkdir -p run; \
	( export $(PACKAGES_ENV); $(call package_loop,$(1)) ) >$(PACKAGES_LOG) 2>&1 & packages=$$!; \
	echo "=== tests (whole workspace; the packages run alongside, output in $(PACKAGES_LOG))"; \
	uv run --no-sync pytest tests $(1) && tests_rc=0 || tests_rc=$$?; [ $$tests_rc = 5 ] && tests_rc=0; \
	wait $$packages && packages_rc=0 || packages_rc=$$?; \
	cat $(PACKAGES_LOG); \
	echo "=== tests/: exit $$tests_rc; packages: exit $$packages_rc"; \
	[ $$tests_rc = 0 ] && [ $$packages_rc = 0 ]
endef

# The page tests need Debian's Chromium: installed here, and required (a missing browser fails
# the page tests instead of skipping them).
browser: ## install Debian's Chromium and ChromeDriver for the page tests (if missing)
	deploy/browser/chromium.sh ensure

test: export ENSEMBLE_REQUIRE_BROWSER = 1
test: bootstrap lint browser test-rules ## lint, then every test tier on real Kafka, SQLite and PostgreSQL
	$(call each_package,$(PYTEST_ARGS))

test-fast: bootstrap ## unit tests only (no broker, no PostgreSQL), each package alone
	$(call each_package,$(FAST))

# mypy checks every package's tests in a run of their own: each has a `tests` package.
TYPED_TESTS := contracts/tests libs/runtime/tests libs/devkit/tests \
	$(sort $(wildcard services/*/tests)) tests

lint: bootstrap ## ruff, mypy, drift of schemas/AsyncAPI/topic map/KafkaTopics, deploy/ offline
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy
	@set -e; for dir in $(TYPED_TESTS); do echo "mypy $$dir"; uv run mypy $$dir; done
	uv run ensemble-docs --check
	deploy/lint.sh  # hadolint, compose, kustomize render + kubernetes-validate (offline)

# promtool from Debian's prometheus package (installed by the script when missing).
test-rules: ## Prometheus alert rules: promtool check and unit tests (deploy/prometheus)
	deploy/prometheus/test-rules.sh

contracts: bootstrap ## regenerate schemas, AsyncAPI and the README topic map (models + services)
	uv run ensemble-docs

# A quick slice (50 cases per target) already runs with tests/ in `make test`.
fuzz: bootstrap ## property-based fuzz run, FUZZ_EXAMPLES per target (10000); run/fuzz/report.md
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} uv run pytest tests/fuzz -q

# RATE (admissions/s offered, 500), DURATION (s at that rate, 60; quick 10) or ADMISSIONS,
# STORE (sqlite, postgresql), MLLP_WINDOW (frames each MLLP sender keeps in flight, 1),
# OFFERED (the alerts phase's transport: http, mllp; http), POLL (seconds between the
# practices' and staff's polls, 0.015).
# The bench starts its own broker unless KAFKA_BOOTSTRAP_SERVERS.
BENCH_ARGS = $${RATE:+--rate $$RATE} $${DURATION:+--duration $$DURATION} \
	$${ADMISSIONS:+--admissions $$ADMISSIONS} $${STORE:+--store $$STORE} \
	$${MLLP_WINDOW:+--mllp-window $$MLLP_WINDOW} $${OFFERED:+--offered-transport $$OFFERED} \
	$${POLL:+--poll-interval $$POLL}

bench: bootstrap ## full benchmark against raw Kafka (RATE, DURATION, ADMISSIONS, STORE)
	uv run ensemble-local bench $(BENCH_ARGS)

bench-quick: bootstrap ## ~30 s of load; prints the key ratios to raw Kafka at the end
	uv run ensemble-local bench --quick $(BENCH_ARGS)

# CASELOAD (2000); BENCH_DATABASE_URL: an empty PostgreSQL database (default: a fresh SQLite file).
bench-huddle: bootstrap ## time a huddle's agenda (open, read, sheet) for a caseload of 2,000
	uv run python -m referral.huddle_bench $${CASELOAD:+--caseload $$CASELOAD} \
		$${BENCH_DATABASE_URL:+--database-url $$BENCH_DATABASE_URL}

bench-booking: bootstrap ## 8,800 coaching bookings, concurrent HTTP, SQLite + PostgreSQL (STORE)
	uv run ensemble-local bench-booking $${STORE:+--store $$STORE}

# PATIENTS (450000); BENCH_DATABASE_URL: an empty PostgreSQL database (default: a fresh SQLite file).
bench-scoring: bootstrap ## scoring at scale: extracts, model evaluate/activate, cohorts; run/bench-scoring
	uv run ensemble-scoring-admin bench $${PATIENTS:+--patients $$PATIENTS} \
		$${BENCH_DATABASE_URL:+--database-url $$BENCH_DATABASE_URL}

kafka-start: ## start the local Kafka broker only (run/kafka, port 9092)
	deploy/kafka/kafka.sh start

kafka-stop: ## stop the local Kafka broker
	deploy/kafka/kafka.sh stop

clean: ## remove generated state (run/), keeping the Kafka download cache
	-deploy/kafka/kafka.sh stop
	rm -rf run .pytest_cache .mypy_cache .ruff_cache
