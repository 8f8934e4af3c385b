# The two commands a new user needs: `make up` (everything on the sample data) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Where to get a CPU-only torch when this machine has no local wheel (never the multi-GB CUDA default).
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: venv venv-airflow test test-containers lint up down format clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# A CPU build of torch first: a local wheel when the machine has one, else the CPU-only index.
	@# (`+cpu` exists only as a local/CPU-index wheel, so PyPI never hands out the multi-GB CUDA build;
	@# no --no-index, so torch's own dependencies still come from the configured package index.)
	$(PY) -c "import torch" 2>/dev/null \
	  || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)+cpu" 2>/dev/null \
	  || $(PY) -m pip install --quiet torch --index-url $(TORCH_CPU_INDEX)
	$(PY) -m pip install --quiet -e ".[all,dev,bench,ray]"
	@touch $@

venv: $(VENV)/.installed

# The Airflow DAG's own venv (deploy/airflow, docs/retraining.md "With Airflow"; tests/airflow runs the DAG
# with it): exactly the lock, nothing resolved here. Rebuilt from scratch only when the lock changes.
AIRFLOW_PYTHON ?= python3.11
AIRFLOW_VENV := .venv-airflow
AIRFLOW_LOCK := deploy/airflow/requirements.lock

$(AIRFLOW_VENV)/.installed: $(AIRFLOW_LOCK)
	rm -rf $(AIRFLOW_VENV)
	$(AIRFLOW_PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --no-deps -r $(AIRFLOW_LOCK)
	@touch $@

venv-airflow: $(AIRFLOW_VENV)/.installed

# One process by default: on 2 cores the suite is CPU-bound (two pytest-xdist workers took 2169 s where
# one process took ~2345 s, and a response-time check failed under the load). TEST_WORKERS=N runs N
# workers on a bigger machine: files go to workers whole, those sharing a server tier together
# (tests/fixtures/parallel.py: one start per tier, disjoint ports).
TEST_WORKERS ?= 0
test: venv
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The container tier (never part of `make test`): builds both images with `docker compose build`,
# starts the stack under a unique project name, checks it through the published ports, always ends
# with `down -v`, and prints every step's wall time. Needs Docker with Compose v2. Optional overrides
# for machines without Docker Hub or PyTorch's index: TORCH_CPU_INDEX and DOCKER_BUILD_NETWORK
# (../shared/containers/setup prints both).
test-containers: venv
	SALESCAST_CONTAINER_TIER=1 $(PY) -m pytest tests/containers/stack -q --timeout 3600

# ruff (lint + format), mypy strict, import-linter (layers), hadolint and the compose schema: the hooks in
# .pre-commit-config.yaml.
lint: venv
	$(VENV)/bin/pre-commit run --all-files --show-diff-on-failure

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

up: venv
	$(VENV)/bin/salescast up

# No venv step: stopping must not start an install (and without a venv nothing of ours can run).
down:
	@if [ -x $(VENV)/bin/salescast ]; then $(VENV)/bin/salescast down; else echo "nothing to stop: no $(VENV)"; fi

clean:
	rm -rf artifacts mlruns run model_store/*.mar test-artifacts
