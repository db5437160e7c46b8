"""The real mesh, started the way `make up` starts it: Consul, four services, four Envoys.

If the mesh was already up (a developer ran `make up`), the suite uses it and leaves it running;
otherwise it starts it and stops it at the end (set KEEP_MESH=1 to keep it).
"""

import json
import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import consul
import pytest
import requests

import polling
from frontend import meshtls
from meshctl import topology

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "volumes" / "logs"
# the mesh's shape, from the service definitions make up starts it from
MESH = topology.load(REPO / "consul-config")
SERVICES = tuple(MESH)
INSTANCES = {instance.id: instance for instance in topology.instances(MESH)}  # every version's: products-v2 too
FRONTEND = MESH["frontend"].url
ORDERS = MESH["orders"].url


def meshctl(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshctl", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=os.environ | (env or {}))


def log_tail(component: str, lines: int = 25) -> str:
    path = LOGS / f"{component}.log"
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return f"--- last lines of {path}:\n" + "\n".join(text)


def eventually(what: str, probe, timeout: float = 20, interval: float = 0.25, logs: tuple = ()):
    """Poll ``probe`` until truthy; on time-out show the last lines of the ``logs`` components."""
    return polling.eventually(what, probe, timeout, interval, lambda: "\n".join(log_tail(c) for c in logs))


@pytest.fixture(scope="session")
def mesh():
    already_up = meshctl("status", timeout=30).returncode == 0
    result = meshctl("up")
    if result.returncode != 0:
        pytest.fail(f"meshctl up failed:\n{result.stdout}\n{result.stderr}")
    yield
    if not already_up and os.environ.get("KEEP_MESH") != "1":
        result = meshctl("down", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


SECRETS = REPO / "volumes" / "secrets"


def token(identity: str) -> str:
    """The secret of a token `make up` made (``management`` for the operator's)."""
    return (SECRETS / "acl" / f"{identity}.token").read_text().strip()


@pytest.fixture(scope="session")
def consul_client(mesh):
    """Consul through the gate (as the frontend and operators reach it), as the operator."""
    return consul.Consul(host="127.0.0.1", port=8500, token=token("management"))


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def make_user(mesh, http):
    def make() -> dict:
        response = http.post(f"{FRONTEND}/api/users", timeout=10,
                             json={"name": "Integration Tester", "email": f"{unique('it')}@example.com"})
        assert response.status_code == 201, response.text
        return response.json()
    return make


@pytest.fixture
def make_product(mesh, http):
    def make(price: str = "12.50", stock: int = 10) -> dict:
        response = http.post(f"{FRONTEND}/api/products", timeout=10,
                             json={"name": unique("product"), "price": price, "stock": stock})
        assert response.status_code == 201, response.text
        return response.json()
    return make


class MeshTLS:
    """Calls to a sidecar's public port as the mesh makes them, through the frontend's own mTLS client
    (frontend/meshtls.py, what "Try it" uses), or TLS with no certificate at all."""

    def __init__(self, client: consul.Consul):
        self.client = client
        self.roots = client.agent.connect.ca.roots()

    def call_as(self, source: str, destination: str, method: str, path: str) -> tuple[int | None, str]:
        """``destination``'s sidecar answering ``source``'s own certificate: status (None: no answer), body."""
        identity = meshtls.Identity.from_consul(self.roots, self.client.agent.connect.ca.leaf(source))
        answer = meshtls.request("127.0.0.1", MESH[destination].sidecar_port, method, path, identity)
        return answer["status"], answer["body"]

    def context_without_certificate(self) -> ssl.SSLContext:
        """Trusts the mesh's CA and presents no certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # mesh certificates carry SPIFFE URIs, not host names
        context.load_verify_locations(cadata="".join(root["RootCert"] for root in self.roots["Roots"]))
        return context


@pytest.fixture(scope="session")
def mesh_tls(consul_client):
    return MeshTLS(consul_client)


def envoy_stats(service: str) -> dict[str, int]:
    """The counters of the sidecar of ``service`` (a service's first instance, or another's by its id)."""
    text = requests.get(f"http://127.0.0.1:{INSTANCES[service].admin_port}/stats", timeout=5).text
    stats = {}
    for line in text.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().lstrip("-").isdigit():
            stats[name] = int(value)
    return stats


def dump(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
