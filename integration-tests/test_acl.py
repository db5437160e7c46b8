"""ACLs on the real mesh (local mode): default deny, one token per identity with exactly its rights,
and no way to another service's mesh certificate through anything a process without a client
certificate can reach."""

import json
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import LOGS, MESH, SECRETS, SERVICES, eventually, token
from meshctl.acl import CATALOG_READ, MESH_READ
from meshctl.local import CA_FILE, CONSUL_BIN, OPERATOR_CERT, OPERATOR_KEY, envoy_binary

GATE = "http://127.0.0.1:8500"
HTTPS = "https://127.0.0.1:8501"
OPERATOR = (str(OPERATOR_CERT), str(OPERATOR_KEY))
ANONYMOUS_ID = "00000000-0000-0000-0000-000000000002"
INTENTION = {"Kind": "service-intentions", "Name": "orders", "Sources": [{"Name": "*", "Action": "allow"}]}


def call(method: str, path: str, secret: str | None = None, via: str = GATE, body=None) -> requests.Response:
    headers = {"X-Consul-Token": secret} if secret else {}
    extra = {"verify": str(CA_FILE), "cert": OPERATOR} if via == HTTPS else {}
    return requests.request(method, via + path, headers=headers, timeout=10,
                            data=None if body is None else json.dumps(body), **extra)


@pytest.mark.parametrize("via", [GATE, HTTPS], ids=["gate", "https"])
@pytest.mark.parametrize("method, path, body", [
    ("PUT", "/v1/config", INTENTION),
    ("PUT", "/v1/kv/acl-test", "x"),
    ("GET", "/v1/acl/tokens", None),
    ("GET", f"/v1/acl/token/{ANONYMOUS_ID}", None),
    ("PUT", "/v1/agent/service/register", {"Name": "impostor", "Port": 1}),
], ids=["config-entry", "kv", "token-list", "token-read", "register"])
def test_anonymous_requests_are_refused(mesh, via, method, path, body):
    answer = call(method, path, via=via, body=body)
    assert answer.status_code == 403 and "Permission denied" in answer.text, (answer.status_code, answer.text)


def test_without_a_client_certificate_consuls_https_api_refuses_the_handshake(mesh):
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_REQUIRED|certificate required|alert"):
        requests.get(HTTPS + "/v1/status/leader", verify=str(CA_FILE), timeout=5)


def test_a_client_certificate_from_consuls_own_ca_is_not_one(mesh):
    """Consul's server certificate is signed by Consul's CA; the API takes clients' CA only."""
    server = (str(SECRETS / "tls" / "dc1-server-consul-0.pem"), str(SECRETS / "tls" / "dc1-server-consul-0-key.pem"))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(HTTPS + "/v1/status/leader", verify=str(CA_FILE), cert=server, timeout=5)


@pytest.mark.parametrize("service", SERVICES)
def test_a_services_own_token_cannot_write_intentions(mesh, service):
    for via in (GATE, HTTPS):
        answer = call("PUT", "/v1/config", token(service), via=via, body=INTENTION)
        assert answer.status_code == 403 and "intention:write" in answer.text, answer.text
    for reader in ("frontend-read", "observer"):
        assert call("PUT", "/v1/config", token(reader), body=INTENTION).status_code == 403


@pytest.mark.parametrize("service", SERVICES)
def test_through_the_gate_no_token_but_its_own_takes_a_services_certificate(mesh, service):
    # every sidecar runs, so the agent holds every service's certificate in its cache
    eventually(f"{service}'s sidecar to hold its certificate", lambda: requests.get(
        f"http://127.0.0.1:{MESH[service].admin_port}/certs", timeout=5).json().get("certificates"))
    path = f"/v1/agent/connect/ca/leaf/{service}"
    others = [token(name) for name in (*SERVICES, "frontend-read", "observer", "agent") if name != service]
    for secret in (None, *others):
        answer = call("GET", path, secret)
        assert answer.status_code == 403 and "PRIVATE KEY" not in answer.text, (answer.status_code, answer.text[:200])
    own = call("GET", path, token(service))
    assert own.status_code == 200 and f"/svc/{service}" in own.json()["ServiceURI"]
    # the same request straight to Consul's agent: answered from its cache to anyone holding a client
    # certificate, token or not; that is why only sidecars, the gate and operators hold one
    assert "PRIVATE KEY" in call("GET", path, via=HTTPS).json()["PrivateKeyPEM"]


def test_every_token_has_exactly_its_identity(mesh):
    def rights(secret: str) -> dict:
        me = call("GET", "/v1/acl/token/self", secret).json()
        return {"services": [s["ServiceName"] for s in me.get("ServiceIdentities") or []],
                "nodes": [n["NodeName"] for n in me.get("NodeIdentities") or []],
                "policies": [p["Name"] for p in me.get("Policies") or []]}

    for service in SERVICES:
        assert rights(token(service)) == {"services": [service], "nodes": [], "policies": []}
    assert rights(token("agent")) == {"services": [], "nodes": ["shop"], "policies": []}
    for reader in ("frontend-read", "observer"):
        assert rights(token(reader)) == {"services": [], "nodes": [], "policies": [MESH_READ]}
    assert rights(token("prometheus")) == {"services": [], "nodes": [], "policies": [CATALOG_READ]}
    policy = call("GET", f"/v1/acl/policy/name/{MESH_READ}", token("management")).json()
    assert 'policy     = "read"' in policy["Rules"] and "write" not in policy["Rules"]
    policy = call("GET", f"/v1/acl/policy/name/{CATALOG_READ}", token("management")).json()
    assert "intentions" not in policy["Rules"] and "write" not in policy["Rules"], policy["Rules"]
    anonymous = call("GET", f"/v1/acl/token/{ANONYMOUS_ID}", token("management")).json()
    assert not anonymous.get("Policies") and not anonymous.get("ServiceIdentities"), anonymous
    assert rights(token("management"))["policies"] == ["global-management"]


def test_the_agent_runs_with_its_node_identity(mesh):
    agent = call("GET", "/v1/agent/self", token("management")).json()
    assert agent["Config"]["NodeName"] == "shop"
    # with no agent token the agent could not keep its own node in the catalogue
    assert "Coordinate update blocked by ACLs" not in (LOGS / "consul.log").read_text(errors="replace")[-20000:]


def test_no_secret_is_on_a_command_line(mesh):
    secrets = [token(name) for name in (*SERVICES, "management", "agent", "frontend-read", "observer")]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_text(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
        assert not any(secret in text for secret in secrets), cmdline


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _envoy_with_token(folder: Path, secret: str | None) -> tuple[subprocess.Popen, int, Path]:
    """A second Envoy for users' sidecar, bootstrapped as `make up` does, presenting ``secret``."""
    admin = _free_port()
    env = {"CONSUL_HTTP_ADDR": HTTPS, "CONSUL_CACERT": str(CA_FILE), "CONSUL_CLIENT_CERT": OPERATOR[0],
           "CONSUL_CLIENT_KEY": OPERATOR[1], "PATH": "/usr/bin:/bin"}
    bootstrap = subprocess.run([str(CONSUL_BIN), "connect", "envoy", "-bootstrap", "-sidecar-for", "users",
                                "-token-file", str(SECRETS / "acl" / "users.token"), "-admin-bind", f"127.0.0.1:{admin}",
                                "-grpc-addr", "https://127.0.0.1:8503", "-grpc-ca-file", str(CA_FILE)],
                               capture_output=True, text=True, env=env, timeout=30)
    assert bootstrap.returncode == 0, bootstrap.stderr
    config = json.loads(bootstrap.stdout)
    grpc = config["dynamic_resources"]["ads_config"]["grpc_services"]
    grpc["initial_metadata"] = [{"key": "x-consul-token", "value": secret}] if secret else []
    path = folder / "bootstrap.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    log = folder / "envoy.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(envoy_binary()), "--config-path", str(path), "--disable-hot-restart",
                                    "--log-level", "warn"], stdout=out, stderr=subprocess.STDOUT)
    return process, admin, log


def _dynamic_clusters(admin: int) -> list:
    try:
        dump = requests.get(f"http://127.0.0.1:{admin}/config_dump?resource=dynamic_active_clusters", timeout=2)
        return dump.json().get("configs", [])
    except (requests.RequestException, ValueError):
        return []


@pytest.mark.parametrize("whose", ["its own", "none", "orders'"])
def test_an_envoy_gets_config_only_with_its_services_token(mesh, whose):
    secret = {"its own": token("users"), "none": None, "orders'": token("orders")}[whose]
    with tempfile.TemporaryDirectory() as folder:
        process, admin, log = _envoy_with_token(Path(folder), secret)
        try:
            if whose == "its own":  # the harness works: the right token gets the config
                eventually("the second users Envoy to get its clusters", lambda: _dynamic_clusters(admin), timeout=30)
                return
            eventually("Consul to refuse the Envoy's xDS stream",
                       lambda: "Permission denied" in log.read_text(errors="replace")
                       or "PERMISSION_DENIED" in log.read_text(errors="replace"), timeout=30)
            assert _dynamic_clusters(admin) == [], log.read_text()[-2000:]
            # the only certificate it holds is Consul's CA, from its bootstrap: no mesh certificate
            certs = requests.get(f"http://127.0.0.1:{admin}/certs", timeout=5).json()["certificates"]
            assert all(not c["cert_chain"] for c in certs), certs
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_consuls_ui_sees_no_allow_all_default(mesh):
    """Consul's UI warns "Your current ACL settings allow all services to connect" when this is true."""
    answer = call("GET", "/v1/internal/ui/service-topology/orders?kind=", token("management"))
    assert answer.headers["X-Consul-Default-Acl-Policy"] == "deny"
    edges = answer.json()["Upstreams"] + answer.json()["Downstreams"]
    assert len(edges) == 3 and all(edge["Intention"]["DefaultAllow"] is False for edge in edges), edges
