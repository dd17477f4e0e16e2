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
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= statecast:$(VERSION)
DOCKER ?= docker
KIND ?= kind
KIND_CLUSTER ?= statecast
KIND_KUBECONFIG := .kind/kubeconfig
RELEASE_NAMESPACE ?= statecast-system
# The dev cluster's builds (statecast dev-cluster build), found lazily.
KUBECTL = $(shell $(PY) -c 'from statecast.devcluster import build; print(build.binary("kubectl"))')
HELM = $(shell $(PY) -c 'from statecast.devcluster import build; print(build.binary("helm"))')

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
lint: install ## ruff, mypy --strict (the package and bench/), import-linter layer contracts, function lengths, CRD, CRD reference and configuration docs drift
	$(VENV)/bin/ruff check operator tests bench
	$(VENV)/bin/ruff format --check operator tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy bench
	$(VENV)/bin/lint-imports
	$(PY) .ci/function_lengths.py
	$(STATECAST) crds --check
	$(STATECAST) docs --check

.PHONY: fmt
fmt: install ## Format and auto-fix with ruff
	$(VENV)/bin/ruff format operator tests bench
	$(VENV)/bin/ruff check --fix operator tests bench

.PHONY: test
test: lint test-unit test-integration ## Everything CI runs: lint, unit tests, integration tests on a real control plane

.PHONY: test-unit
test-unit: install ## Unit and component tests (no cluster)
	$(PY) -m pytest -m "not integration and not e2e" tests

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

##@ Image and install (need Docker; kind for the kind-* targets)
.PHONY: lock
lock: install ## Pin the image's dependencies, with hashes, into requirements.lock (uv)
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	  --generate-hashes --no-header --output-file requirements.lock --quiet
	@sed -i '1i # The image'"'"'s dependencies, pinned with hashes: `make lock` (uv pip compile pyproject.toml).' requirements.lock

.PHONY: image
image: ## Build the container image $(IMAGE) from the Dockerfile (docker build)
	$(DOCKER) build -t $(IMAGE) .

.PHONY: kind-up
kind-up: ## Create the kind cluster of kind-config.yaml (3 zones, 6 workers); kubeconfig in .kind/
	$(KIND) create cluster --name $(KIND_CLUSTER) --config kind-config.yaml
	mkdir -p .kind && $(KIND) get kubeconfig --name $(KIND_CLUSTER) > $(KIND_KUBECONFIG)

.PHONY: kind-load
kind-load: image ## Build the image and load it onto the kind nodes
	$(KIND) load docker-image $(IMAGE) --name $(KIND_CLUSTER)

.PHONY: deploy
deploy: cluster-build ## Install or upgrade CRDs and the chart on the kind cluster (KIND_KUBECONFIG)
	$(KUBECTL) --kubeconfig $(KIND_KUBECONFIG) apply --server-side -f manifests/install/crds.yaml
	$(STATECAST) crds --wait-established $(KIND_KUBECONFIG) --timeout 60
	$(HELM) upgrade --install statecast manifests/chart/statecast --kubeconfig $(KIND_KUBECONFIG) \
	  --namespace $(RELEASE_NAMESPACE) --create-namespace --skip-crds --wait --timeout 5m \
	  --set image.repository=$(firstword $(subst :, ,$(IMAGE))) --set image.tag=$(VERSION)

.PHONY: e2e-kind
e2e-kind: install ## End-to-end tests of the deployed install (the chart's pods, a consumer pod, the plugin)
	STATECAST_E2E_KUBECONFIG=$(KIND_KUBECONFIG) STATECAST_E2E_IMAGE=$(IMAGE) \
	  $(PY) -m pytest -m e2e tests/e2e

.PHONY: kind-down
kind-down: ## Delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)
	rm -rf .kind

##@ Faults
.PHONY: e2e-faults
e2e-faults: cluster-build ## Every chaos scenario, full length, three runs each, on a fresh dev cluster (reports in docs/bench/faults/)
	$(PY) -m bench.faults

.PHONY: bench-policies-live
bench-policies-live: cluster-build ## predictive/reactive/static live on a dev cluster with cross-zone latency, beside the simulator on the same demand (docs/bench/policies-live.*)
	$(PY) -m bench.policies_live

.PHONY: soak
soak: cluster-build ## 10 minutes of steady load on the whole system; operator and agent RSS at start and end (docs/bench/soak.*)
	$(PY) -m bench.soak

.PHONY: e2e-linearizability
e2e-linearizability: cluster-build ## Strong resources under every strong fault, 20 seeds each, checked with Porcupine (reports in docs/bench/linearizability/)
	$(PY) -m bench.linearizability

##@ Benchmarks
.PHONY: bench
bench: bench-forecast bench-m4 bench-agent bench-sim ## Run every benchmark

.PHONY: bench-forecast
# BENCH_FORECAST_ARGS: e.g. '--save /tmp/f' to keep each set as it finishes (resumable)
BENCH_FORECAST_ARGS ?=
bench-forecast: install ## Forecast accuracy, coverage and speed on traces, against baselines
	$(PY) -m pip install --quiet -e '.[bench-data]'
	# ISLP for its data only (hourly bike rentals): its dependencies would bring torch
	$(PY) -m pip install --quiet --no-deps 'ISLP==0.6.0'
	$(PY) -m bench.forecast $(BENCH_FORECAST_ARGS)

.PHONY: bench-m4
bench-m4: install ## M4 hourly: both forecast paths, baselines and statsforecast, official measures
	$(PY) -m bench.m4

.PHONY: bench-agent
bench-agent: install ## Agent latency/throughput next to Redis, sync bytes, convergence, memory
	$(PY) -m bench.agent

.PHONY: bench-operator-scale
bench-operator-scale: install cluster-build ## The operator at 100, 300 and 1,000 resources x 50 KWOK nodes (docs/scale.md)
	nice -n 10 $(PY) -m bench.operator_scale --resources 100,300,1000 --nodes 50 --json out/operator-scale.json

.PHONY: bench-operator-scale-hour
bench-operator-scale-hour: install cluster-build ## The docs' kept run: 1,000 resources x 50 nodes for an hour, 40 pinned to the node lost at ~1,500 s, changes at ~90 s and 2,400 s (docs/bench/operator-scale.json)
	$(PY) -m bench.operator_scale --resources 1000 --nodes 50 --pinned 40 --loss-after 1500 --steady 60 --changes 20 --late-changes 20 --late-changes-after 2400 --settle-after 1740 --settled 1800 --duration 3600 --json out/operator-scale-hour.json

.PHONY: bench-strong
bench-strong: install ## Write latency of a strong resource (majority ack) next to eventual ones
	$(PY) -m bench.strong_latency

.PHONY: bench-sim
bench-sim: install ## Placement policies compared in the simulator
	$(PY) -m bench.sim

##@ Help
.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*?##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
