# The two commands a newcomer needs: `make up` and `make test`. Everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONSUL := .cache/consul/consul
PROMETHEUS := .cache/prometheus/prometheus
JAEGER := .cache/jaeger/jaeger
# our own packages' folders, put on the venv's path by a .pth file so the code you edit is the code
# that runs (plain path entries: `frontend/` the folder then never shadows `frontend` the package;
# `.` is for meshctl, which the frontend imports its intentions model from; a new apps/<name> is
# picked up by the wildcard)
LOCAL_PACKAGES := . $(dir $(wildcard apps/*/pyproject.toml)) frontend
# each row of make bench, in seconds (make bench BENCH_SECONDS=3); BENCH_ARGS=--short for 3 s rows,
# BENCH_ARGS=--containers for the mesh in containers (COMPOSE_PROJECT_NAME, FRONTEND_PORT),
# BENCH_ARGS=--cluster for cluster.yml's (COMPOSE_PROJECT_NAME, CLUSTER_PORT, CLUSTER_PORT_2)
BENCH_SECONDS ?= 10
BENCH_ARGS ?=

.PHONY: help up down status plan token prometheus jaeger test unit integration integration-containers integration-cluster integration-peering peering-up peering-status peering-down screenshots bench profile venv consul images docker-engine clean-data

help:
	@echo "make up       start Consul, every service and its Envoy sidecar (builds what is missing)"
	@echo "make down     stop everything make up started"
	@echo "make status   each service's and sidecar's health, from Consul"
	@echo "make token    print the management token make up made (Consul's UI, consul CLI, intentions page)"
	@echo "make plan     what make up starts, derived from consul-config/services (ports, upstreams, commands)"
	@echo "make bench    wrk against the running mesh: GET direct vs through the mesh, orders/s, CPU and memory (volumes/bench/)"
	@echo "              make bench BENCH_ARGS=--containers: the same against the mesh in containers (docker compose)"
	@echo "              make bench BENCH_ARGS=--cluster: orders/s through cluster.yml's ingress gateways, CPU and memory per container"
	@echo "make profile  py-spy on every app while wrk orders: flame graphs and top frames (volumes/bench/profile-*/)"
	@echo "make peering-up  two datacenters in containers: cluster.yml (dc1) and dc2.yml, peered through mesh gateways"
	@echo "make peering-status  each datacenter's peering: state, imported and exported services (peering-down: both down)"
	@echo "make test     unit tests (SQLite, and PostgreSQL when TEST_POSTGRES_URL answers) + the mesh suite"
	@echo "              + the container, cluster and two-datacenter suites when a Docker engine answers"
	@echo "make images   build local stand-ins for the base images (no registry needed) and write .env"
	@echo "make docker-engine  install and start a Docker engine and Compose v2 if none answers (root)"
	@echo "make clean-data  delete databases, Consul data, generated secrets and logs under volumes/ (after make down)"

venv: $(STAMP)

$(STAMP): requirements-dev.txt apps/common/requirements.txt frontend/requirements.txt apps/*/pyproject.toml frontend/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (see README)"; exit 1; }
	@echo "==> virtualenv: installing pinned packages into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet -r requirements-dev.txt
	@$(PY) -c 'import pathlib, sys, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "shop-local.pth").write_text("".join(str(pathlib.Path(p).resolve()) + "\n" for p in sys.argv[1:]))' $(LOCAL_PACKAGES)
	@touch $(STAMP)

consul: $(CONSUL)

$(CONSUL): meshctl/build-consul.sh $(wildcard consul-config/patches/*.patch) $(shell find consul-config/patches/modules -name "*.patch" 2>/dev/null)
	@bash meshctl/build-consul.sh

# make up does not wait for these two (it builds them in the background); the tests do
prometheus: $(PROMETHEUS)

$(PROMETHEUS): meshctl/build-prometheus.sh
	@nice -n 19 bash meshctl/build-prometheus.sh

jaeger: $(JAEGER)

$(JAEGER): meshctl/build-jaeger.sh
	@nice -n 19 bash meshctl/build-jaeger.sh

up: venv consul
	@$(PY) -m meshctl up

down:
	@if [ -x $(PY) ]; then $(PY) -m meshctl down; else python3 -m meshctl down; fi

status:
	@if [ -x $(PY) ]; then $(PY) -m meshctl status; else python3 -m meshctl status; fi

token:
	@if [ -x $(PY) ]; then $(PY) -m meshctl token; else python3 -m meshctl token; fi

plan:
	@if [ -x $(PY) ]; then $(PY) -m meshctl plan; else python3 -m meshctl plan; fi

unit: venv consul
	@echo "==> unit tests"
	@$(PY) -m pytest -q

integration: venv consul prometheus jaeger
	@echo "==> integration tests against the real mesh (started like make up)"
	@$(PY) -m pytest -q -c integration-tests/pytest.ini integration-tests --ignore=integration-tests/containers \
	  --ignore=integration-tests/cluster --ignore=integration-tests/peering

images: consul prometheus jaeger
	@bash meshctl/images/build.sh

docker-engine:
	@bash meshctl/docker-engine.sh

# $(call docker_suite,NAME,COMPOSE FILE,FOLDER): the suite in integration-tests/FOLDER whenever a
# Docker engine answers; when none does it says so, loudly ('+': it runs make images, and make sees
# no $(MAKE) through a call)
define docker_suite
	+@if docker info >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory images && \
	  echo "==> $(1) tests: $(2) brought up by testcontainers" && \
	  $(PY) -m pytest -q -c integration-tests/pytest.ini integration-tests/$(3); \
	else \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  printf '!! %-73s !!\n' "$(1) tests SKIPPED: no Docker engine answers (make docker-engine)"; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi
endef

integration-containers: venv consul
	$(call docker_suite,container,services.yml,containers)

# the cluster suite: cluster.yml, three Consul servers, two nodes, two instances of everything, the ingress
integration-cluster: venv consul
	$(call docker_suite,cluster,cluster.yml,cluster)

# the two-datacenter suite: cluster.yml's dc1 and dc2.yml's dc2, peered (docs/peering.md)
integration-peering: venv consul
	$(call docker_suite,two-datacenter,cluster.yml + dc2.yml,peering)

# dc1 (cluster.yml) and dc2 (dc2.yml) in containers, peered through their mesh gateways (docs/peering.md)
peering-up:
	@python3 -m meshctl.peering up

peering-status:
	@python3 -m meshctl.peering status

peering-down:
	@python3 -m meshctl.peering down

# refresh docs/screenshots (shown in docs/frontend.md, observability.md and api.md) from the browser tests
screenshots: venv consul
	@UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q -c integration-tests/pytest.ini integration-tests/test_browser.py

# against the mesh make up started, or with BENCH_ARGS=--containers or --cluster the Compose stack (it
# says so when none runs); wrk is installed when missing
bench: venv
	@bash meshctl/bench/need-wrk.sh
	@$(PY) -m meshctl.bench --seconds $(BENCH_SECONDS) $(BENCH_ARGS)

# py-spy on every app while wrk orders (meshctl/bench/profile.py): flame graphs in volumes/bench/profile-*/
profile: venv
	@bash meshctl/bench/need-wrk.sh
	@$(PY) -m meshctl.bench.profile $(PROFILE_ARGS)

test: unit integration integration-containers integration-cluster integration-peering

clean-data:
	@if [ -f volumes/run/consul.pid ]; then echo "run make down first"; exit 1; fi
	@# everything make up wrote (each service's data, Consul's, secrets, logs, pid files); not the
	@# container mesh's data (volumes/docker) nor the browser tests' screenshots
	find volumes -mindepth 1 -maxdepth 1 ! -name README.md ! -name docker ! -name screenshots -exec rm -rf {} +
