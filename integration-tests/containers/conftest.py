"""The mesh in containers, brought up from services.yml by testcontainers (images built from the repo).

Runs as its own Compose project on other host ports, with its own data folder, so it neither meets
a mesh a developer runs with `make up` or `docker compose` nor touches their data.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import consul
import pytest
import requests
from testcontainers.compose import DockerCompose

import leftovers

from compose_stack import (CONSUL_PORT, FRONTEND_PORT, JAEGER_PORT, PROJECT, PROMETHEUS_PORT, REPO, compose, container,
                           docker, logs, settled)


@pytest.fixture(scope="session")
def stack(pytestconfig):
    if docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (meshctl/docker-engine.sh installs and starts one)")
    data = Path(tempfile.mkdtemp(prefix="shop-compose-data-"))
    os.environ.update({
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "COMPOSE_PROJECT_NAME": PROJECT,
        "FRONTEND_PORT": str(FRONTEND_PORT),
        "CONSUL_PORT": str(CONSUL_PORT),
        "PROMETHEUS_PORT": str(PROMETHEUS_PORT),
        "JAEGER_PORT": str(JAEGER_PORT),
        "DATA_DIR": str(data),
    })
    leftovers.clear(PROJECT, docker, compose, pytestconfig)
    env_file = REPO / ".env"
    mesh = DockerCompose(REPO, compose_file_name="services.yml", build=True, wait=True,
                         env_file=str(env_file) if env_file.exists() else None, quiet_build=True)
    try:
        mesh.start()
        settled()
    except BaseException:
        print("\n".join(logs(s) for s in ("consul", "users", "users-sidecar", "mesh-secrets", "mesh-init", "frontend-sidecar")))
        mesh.stop()
        raise
    yield mesh
    mesh.stop()  # down --volumes: the containers, networks and volumes; the data folder goes below
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def consul_ca(stack, tmp_path_factory) -> Path:
    """This mesh's CA certificate, as mesh-secrets made it on first start (public)."""
    path = tmp_path_factory.mktemp("consul-ca") / "consul-agent-ca.pem"
    path.write_text(docker("exec", container("consul"), "cat", "/consul/secrets/tls/consul-agent-ca.pem").stdout)
    return path


@pytest.fixture(scope="session")
def operator_cert(stack, tmp_path_factory) -> tuple[str, str]:
    """A client certificate Consul's HTTPS API accepts: the one its own CLI uses in its container."""
    folder = tmp_path_factory.mktemp("operator")
    folder.chmod(0o700)
    for name in ("cli.pem", "cli-key.pem"):
        (folder / name).write_text(docker("exec", container("consul"), "cat", f"/consul/secrets/{name}").stdout)
    return str(folder / "cli.pem"), str(folder / "cli-key.pem")


@pytest.fixture(scope="session")
def management_token(stack) -> str:
    """The management token, by the command the README gives operators."""
    result = compose("run", "--rm", "--no-deps", "mesh-init", "token")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def consul_client(stack, consul_ca, operator_cert, management_token):
    """Consul's API over TLS (plain HTTP is off in containers), trusting this mesh's CA only,
    presenting a client certificate, as the operator."""
    return consul.Consul(host="127.0.0.1", port=CONSUL_PORT, scheme="https", verify=str(consul_ca),
                         cert=operator_cert, token=management_token)


@pytest.fixture(scope="session")
def frontend(stack) -> str:
    return f"http://127.0.0.1:{FRONTEND_PORT}"


@pytest.fixture
def api(frontend):
    session = requests.Session()
    session.trust_env = False

    class API:
        def post(self, path, body, **headers):
            return session.post(f"{frontend}{path}", json=body, headers=headers, timeout=15)

        def get(self, path):
            return session.get(f"{frontend}{path}", timeout=15)

        def user(self):
            r = self.post("/api/users", {"name": "Container", "email": f"c-{uuid.uuid4().hex[:10]}@example.com"})
            assert r.status_code == 201, r.text
            return r.json()

        def product(self, stock=10, price="3.25"):
            r = self.post("/api/products", {"name": f"p-{uuid.uuid4().hex[:8]}", "price": price, "stock": stock})
            assert r.status_code == 201, r.text
            return r.json()

        def order(self, user, product, quantity=1):
            return self.post("/api/orders", {"user_id": user["id"],
                                             "items": [{"product_id": product["id"], "quantity": quantity}]})

        def stock(self, product):
            return self.get(f"/api/products/{product['id']}").json()["stock"]
    yield API()
    session.close()
