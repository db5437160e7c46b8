# The two commands a newcomer needs: `make up` and `make test`. Everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONSUL := .cache/consul/consul
# our own packages, installed editable (as plain path entries, so `frontend/` the folder never
# shadows `frontend` the package) so the code you edit is the code that runs
LOCAL_PACKAGES := -e apps/common -e apps/users -e apps/products -e apps/orders -e frontend

.PHONY: help up down status test unit integration venv consul clean-data

help:
	@echo "make up       start Consul, every service and its Envoy sidecar (builds what is missing)"
	@echo "make down     stop everything make up started"
	@echo "make status   each service's and sidecar's health, from Consul"
	@echo "make test     unit tests (SQLite, and PostgreSQL when TEST_POSTGRES_URL answers) + the mesh suite"
	@echo "make clean-data  delete databases, Consul data and logs under volumes/ (after make down)"

venv: $(STAMP)

$(STAMP): requirements-dev.txt apps/common/requirements.txt apps/*/pyproject.toml frontend/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (see README)"; exit 1; }
	@echo "==> virtualenv: installing pinned packages into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -r requirements-dev.txt
	@$(PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat $(LOCAL_PACKAGES)
	@touch $(STAMP)

consul: $(CONSUL)

$(CONSUL): meshctl/build-consul.sh
	@bash meshctl/build-consul.sh

up: venv consul
	@$(PY) -m meshctl up

down:
	@if [ -x $(PY) ]; then $(PY) -m meshctl down; else python3 -m meshctl down; fi

status:
	@if [ -x $(PY) ]; then $(PY) -m meshctl status; else python3 -m meshctl status; fi

unit: venv
	@echo "==> unit tests"
	@$(PY) -m pytest -q

integration: venv consul
	@echo "==> integration tests against the real mesh (started like make up)"
	@$(PY) -m pytest -q -c integration-tests/pytest.ini integration-tests

test: unit integration

clean-data:
	@if [ -f volumes/run/consul.pid ]; then echo "run make down first"; exit 1; fi
	rm -rf volumes/consul volumes/users volumes/products volumes/orders volumes/logs volumes/run
