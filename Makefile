# ledgerbridge — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
RUN := $(VENV)/bin/ledgerbridge
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help setup pipelines pipelines-s3 live test test-slow lint bench bench-live bench-scale clean

help: ## List the targets with what they do
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --quiet
	$(VENV)/bin/python -m compileall -q pipelines
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv from the lock file (quick when nothing changed)

pipelines: setup ## Run the main job on the embedded default lake (lake/)
	$(RUN) run

pipelines-s3: setup ## The main job on an S3 object store: a local SeaweedFS server (EU region) on loopback
	$(VENV)/bin/python -m pipelines.embedded.s3_sandbox -- $(RUN) run

live: setup ## The bridge live on loopback: CRM sandbox (webhooks) + serve + watch; Ctrl-C stops
	$(VENV)/bin/python -m pipelines.live.dev

test: setup ## Run the test suite (fast tests; CI's path)
	$(VENV)/bin/pytest -q

test-slow: setup ## Run the slow scale tests (the demo and the whole flow at 50,000 customers)
	$(VENV)/bin/pytest -q -m slow

lint: setup ## ruff (Python) and sqlfluff (dbt SQL)
	$(VENV)/bin/ruff check pipelines tests
	$(VENV)/bin/ruff format --check pipelines tests
	$(VENV)/bin/sqlfluff lint models dbt_project/macros dbt_project/tests

LARGE_GB ?= 10
INCREMENT_LIVE_CUSTOMERS ?= 100000
LIVE_CHANGES ?= 50
bench-live: setup ## Live latency, both ways: journal change → CRM property, CRM edit → API (p50/p95/max)
	$(VENV)/bin/python -m pipelines.live.bench_live --customers $(LIVE_CUSTOMERS) --changes $(LIVE_CHANGES)

CUSTOMERS ?= 1000000
bench: setup ## Decoder speed, scaling, baseline ratio; LARGE_GB (10) file peak memory; API p99, 1 % CDC apply and journal increment vs full run on 1M customers
	$(VENV)/bin/python -m pipelines.bench --large-gb $(LARGE_GB) --api 1000000 --cdc 1000000 --crm-contacts 1000000 --increment $(INCREMENT_CUSTOMERS)

CUSTOMERS ?= 100000
bench-scale: setup ## Whole flow on a CUSTOMERS-customer demo (default 100000): wall time, peak memory
	$(VENV)/bin/python -m pipelines.bench --records 100000 --repeats 1 --pipeline $(CUSTOMERS)

clean: ## Remove the virtualenv, tool cache and runtime lake data (keeps lake/README.md)
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache dbt_project/target dbt_project/logs .s3-sandbox
	find lake -mindepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
