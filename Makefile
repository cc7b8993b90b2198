# Every target installs what it needs: a fresh machine only needs python3, go and make.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
TEMPORAL_VERSION := v1.5.1
TEMPORAL := $(TOOLS)/bin/temporal
export UV_PYTHON := $(shell command -v $(PYTHON))

.PHONY: setup test test-unit lint typecheck pytest run bench bench-cluster bench-store worker dev-server db clean

setup: $(VENV)/.synced $(TEMPORAL) db

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet uv==0.13.9

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --quiet
	touch $@

# The official Temporal CLI (dev server + web UI), built once from the Go module proxy.
$(TEMPORAL):
	@if command -v temporal >/dev/null 2>&1 && [ -z "$$ACCORD_BUILD_TEMPORAL" ]; then \
	  mkdir -p $(TOOLS)/bin && ln -sf "$$(command -v temporal)" $(TEMPORAL); \
	else \
	  mkdir -p $(TOOLS)/bin && GOBIN=$(abspath $(TOOLS)/bin) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VERSION); \
	fi

db: $(VENV)/.synced
	@$(PY) -m store.embedded_cli start

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.synced
	$(VENV)/bin/mypy .

pytest: setup browser
	$(VENV)/bin/pytest -q

test: setup lint typecheck pytest

# The inner loop: every test that needs no service (the domain, parsers, renderers, the
# digest), with a tenth of the property tests' examples (tests/hypothesis_budget.py).
# Layers are markers given at collection (tests/conftest.py): unit, store, temporal,
# browser, cluster; `pytest -m "unit or store"` and the like pick others.
test-unit: $(VENV)/.synced
	ACCORD_TEST_QUICK=1 $(VENV)/bin/pytest -q -m unit -p no:cacheprovider

run: setup
	$(VENV)/bin/accord scenario run scenarios/azerbaijan-icmp.yaml --keep-server --report-dir .data

bench-store: setup
	$(PY) -m bench.eventstore

bench: setup
	$(PY) -m bench.e2e

# The same workloads on the dev server and on the native cluster, side by side in one run
# (bench/targets.py: the cluster is brought up as `accord cluster up` does, and stopped
# after unless it was already running). BENCHMARKS.md, "Dev server and cluster".
bench-cluster: setup
	$(PY) -m bench.e2e --side-by-side --temporal-db-file --processes 60 --open 0
	$(PY) -m bench.temporal_floor --side-by-side

worker: setup
	$(VENV)/bin/accord worker

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

.PHONY: browser compose-cli

# Debian's Chromium for tests/browser (headless; the browser cannot be downloaded).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# A compose v2 CLI to validate docker-compose.yml (`docker compose config`, tests/deploy):
# Debian only packages compose v1, which cannot read the current specification. Built from
# the Go module proxy into the docker CLI's plugin folder; a few minutes on two cores.
COMPOSE_VERSION := v2.40.3
compose-cli:
	@if docker compose version >/dev/null 2>&1; then docker compose version; else \
	  set -e; src=$$(mktemp -d); \
	  dir=$$(go mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) \
	    | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'); \
	  cp -r "$$dir"/. "$$src"; chmod -R u+w "$$src"; mkdir -p "$$HOME/.docker/cli-plugins"; \
	  (cd "$$src" && go build -trimpath -o "$$HOME/.docker/cli-plugins/docker-compose" \
	    -ldflags "-X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)" ./cmd); \
	  rm -rf "$$src"; fi

.PHONY: cluster cluster-down cluster-status cluster-test

# Temporal's real server on PostgreSQL as a cluster of separate processes (cli/cluster.py,
# README "Cluster"): builds its three binaries into .tools/cluster once.
cluster: setup
	$(VENV)/bin/accord cluster up

cluster-down: $(VENV)/.synced
	$(VENV)/bin/accord cluster down

cluster-status: $(VENV)/.synced
	$(VENV)/bin/accord cluster status

# The cluster-marked tests (opt-in: see tests/cluster/conftest.py).
cluster-test: setup
	ACCORD_CLUSTER_TESTS=1 $(VENV)/bin/pytest -q -m cluster tests/cluster
