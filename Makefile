# statecast: `make help` lists the targets by group.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STATECAST := $(VENV)/bin/statecast
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NODES ?= 4
ZONES ?= 2

##@ Setup
.PHONY: install
install: $(STAMP) ## Create .venv and install statecast with dev and bench extras
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench,plot]'
	rm -f $(VENV)/.installed-* && touch $@

##@ Quality
.PHONY: lint
lint: install ## ruff, mypy --strict, import-linter layer contracts, CRD drift
	$(VENV)/bin/ruff check operator tests bench
	$(VENV)/bin/ruff format --check operator tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(STATECAST) crds --check

.PHONY: fmt
fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format operator tests bench
	$(VENV)/bin/ruff check --fix operator tests bench

.PHONY: test
test: lint test-unit test-integration ## Everything CI runs: lint, unit tests, integration tests on a real control plane

.PHONY: test-unit
test-unit: install ## Unit and component tests (no cluster)
	$(PY) -m pytest -m "not integration" tests

.PHONY: test-integration
test-integration: install cluster-build ## Chart lint and drift check, integration tests on the dev cluster (or STATECAST_TEST_KUBECONFIG)
	$(STATECAST) manifests --check
	$(PY) -m pytest -m integration tests

##@ Custom resources
.PHONY: crds
crds: install ## Regenerate crds/ from the pydantic models
	$(STATECAST) crds

.PHONY: manifests
manifests: cluster-build ## Render the Helm chart into manifests/install (helm lint --strict first)
	$(STATECAST) manifests

##@ Local cluster
.PHONY: cluster-build
cluster-build: install ## Build (or reuse from cache) etcd, kube-apiserver, controllers, kubectl, KWOK, Helm
	$(STATECAST) dev-cluster build

.PHONY: cluster-up
cluster-up: cluster-build ## Start the dev cluster (NODES=4 ZONES=2)
	$(STATECAST) dev-cluster up --nodes $(NODES) --zones $(ZONES)

.PHONY: cluster-down
cluster-down: install ## Stop everything the dev cluster started
	$(STATECAST) dev-cluster down

.PHONY: demo
demo: cluster-build ## The main job: the end-to-end demo on the built-in local cluster
	$(STATECAST) demo

##@ Benchmarks
.PHONY: bench
bench: bench-forecast bench-agent bench-sim ## Run every benchmark

.PHONY: bench-forecast
bench-forecast: install ## Forecast accuracy, coverage and speed against baselines
	$(PY) -m bench.forecast

.PHONY: bench-agent
bench-agent: install ## Agent latency/throughput next to Redis, sync bytes, convergence, memory
	$(PY) -m bench.agent

.PHONY: bench-sim
bench-sim: install ## Placement policies compared in the simulator
	$(PY) -m bench.sim

##@ Help
.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*?##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
