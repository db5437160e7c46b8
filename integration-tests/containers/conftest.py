"""The mesh in containers, brought up from services.yml by testcontainers (images built from the repo).

Runs as its own Compose project on other host ports, with its own data folder, so it neither meets
a mesh a developer runs with `make up` or `docker compose` nor touches their data.
"""

import os
import shutil
import tempfile
from pathlib import Path

import consul
import pytest
from testcontainers.compose import DockerCompose

from compose_stack import CONSUL_PORT, FRONTEND_PORT, PROJECT, REPO, docker, logs


@pytest.fixture(scope="session")
def stack():
    if docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (meshctl/docker-engine.sh installs and starts one)")
    data = Path(tempfile.mkdtemp(prefix="shop-compose-data-"))
    os.environ.update({
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "COMPOSE_PROJECT_NAME": PROJECT,
        "FRONTEND_PORT": str(FRONTEND_PORT),
        "CONSUL_PORT": str(CONSUL_PORT),
        "DATA_DIR": str(data),
        "ADMIN_TOKEN": "",  # the suite checks the read-only frontend
    })
    env_file = REPO / ".env"
    compose = DockerCompose(REPO, compose_file_name="services.yml", build=True, wait=True,
                            env_file=str(env_file) if env_file.exists() else None, quiet_build=True)
    try:
        compose.start()
        _wait_until_serving()
    except BaseException:
        print("\n".join(logs(s) for s in ("consul", "users", "users-sidecar", "mesh-config", "frontend-sidecar")))
        compose.stop()
        raise
    yield compose
    compose.stop()  # down: removes the containers and networks; the data folder goes below
    shutil.rmtree(data, ignore_errors=True)


def _wait_until_serving(timeout: float = 60) -> None:
    """Healthy containers are not yet a mesh: wait until each sidecar knows its upstreams' endpoints."""
    import time

    import requests
    deadline = time.monotonic() + timeout
    paths = ("/api/users", "/api/products", "/api/orders")
    while time.monotonic() < deadline:
        try:
            if all(requests.get(f"http://127.0.0.1:{FRONTEND_PORT}{p}", timeout=5).ok for p in paths):
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        pytest.fail(f"the frontend did not serve {paths} within {timeout}s")
    # orders' own upstreams, users and products (the frontend's were proven by the calls above)
    code = ("import sys, urllib.request; s = urllib.request.urlopen('http://127.0.0.1:19000/stats"
            "?filter=membership_healthy', timeout=5).read().decode(); "
            "sys.exit(0 if all(any(l.startswith(f'cluster.{u}.') and not l.endswith(': 0') "
            "for l in s.splitlines()) for u in ('users', 'products')) else 1)")
    while docker("exec", f"{PROJECT}-orders-sidecar-1", "python3", "-c", code).returncode != 0:
        if time.monotonic() > deadline:
            pytest.fail("orders' sidecar has no healthy endpoint for users and products")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def consul_client(stack):
    return consul.Consul(host="127.0.0.1", port=CONSUL_PORT)


@pytest.fixture(scope="session")
def frontend(stack) -> str:
    return f"http://127.0.0.1:{FRONTEND_PORT}"
