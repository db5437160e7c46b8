"""The Consul gate against a real Consul: leaf certificates only for a token that may write the service."""

import http.client
import json
import threading

import pytest

from meshctl import gate, secrets
from realconsul import CONSUL_BIN

RULES_WEB_WRITE = 'service "gate-web" { policy = "write" }'


@pytest.fixture(scope="module")
def consul_gate(throwaway_consul):
    clients = throwaway_consul.folder / "clients"
    cert, key = secrets.client_cert(CONSUL_BIN, clients, "gate", clients)
    upstream = gate.Upstream(throwaway_consul.https.address, str(throwaway_consul.https.ca_file), str(cert), str(key))
    server = gate.serve("127.0.0.1:0", upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def ask(port: int, method: str, path: str, token: str | None = None, body=None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"X-Consul-Token": token} if token else {}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    try:
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_everything_else_goes_through_with_the_callers_token(consul_gate, throwaway_consul):
    assert ask(consul_gate, "GET", "/v1/status/leader")[0] == 200
    status, body = ask(consul_gate, "PUT", "/v1/kv/gate-test", body="x")
    assert status == 403 and "Permission denied" in body  # anonymous: Consul's own answer
    assert ask(consul_gate, "PUT", "/v1/kv/gate-test", throwaway_consul.management, "x")[0] == 200
    status, body = ask(consul_gate, "GET", "/v1/acl/token/self", throwaway_consul.management)
    assert status == 200 and json.loads(body)["Description"].startswith("Bootstrap Token")


def test_a_leaf_certificate_needs_service_write_on_that_service(consul_gate, throwaway_consul):
    web = throwaway_consul.token(rules=RULES_WEB_WRITE)
    other = throwaway_consul.token(services=("gate-db",))
    status, body = ask(consul_gate, "GET", "/v1/agent/connect/ca/leaf/gate-web", web)
    assert status == 200 and "PRIVATE KEY" in json.loads(body)["PrivateKeyPEM"]
    # the agent now holds gate-web's certificate in its cache: straight to Consul, anyone gets it ...
    assert "PRIVATE KEY" in throwaway_consul.https.call("GET", "/v1/agent/connect/ca/leaf/gate-web")["PrivateKeyPEM"]
    # ... through the gate, nobody else does
    for token in (None, other, "00000000-0000-0000-0000-000000000000"):
        status, body = ask(consul_gate, "GET", "/v1/agent/connect/ca/leaf/gate-web", token)
        assert status == 403 and "service:write on gate-web" in body, (token, status, body)
    status, _ = ask(consul_gate, "GET", f"/v1/agent/connect/ca/leaf/gate-web?token={other}")
    assert status == 403


@pytest.mark.parametrize("path", [
    "//v1/agent/connect/ca/leaf/gate-web",
    "/v1//agent/connect/ca/leaf/gate-web",
    "/v1/agent/connect/ca/leaf/../leaf/gate-web",
    "/v1/agent/./connect/ca/leaf/gate-web",
    "/v1/agent/connect/ca/leaf%2fgate-web",
    "/v1/agent/connect/ca/leaf/%2e%2e/leaf/gate-web",
    "/v1/agent/connect/ca/leaf/gate%252dweb",
])
def test_no_spelling_of_the_leaf_path_slips_past(consul_gate, throwaway_consul, path):
    throwaway_consul.token(rules=RULES_WEB_WRITE)
    assert ask(consul_gate, "GET", path)[0] in (400, 403, 404)


def test_escaped_letters_are_checked_as_consul_reads_them(consul_gate):
    status, body = ask(consul_gate, "GET", "/v1/agent/connect/ca/%6ceaf/gate-web")
    assert status == 403 and "service:write" in body
