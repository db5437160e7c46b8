"""Consul and Envoy report the mesh whole: every service and sidecar registered and passing, every
Envoy connected with the configuration Consul sent it, and nothing of it rejected."""

import http.client
import socket
import ssl

import pytest
import requests

from conftest import INSTANCES, MESH, SERVICES, dump, envoy_stats, eventually


@pytest.mark.parametrize("instance", INSTANCES, ids=str)
def test_service_and_sidecar_registered_and_passing(consul_client, instance):
    """Every instance (products' v2 too) and its sidecar, each passing on its own."""
    me = INSTANCES[instance]

    def passing():
        _, nodes = consul_client.health.service(me.name, passing=True)
        _, proxies = consul_client.health.connect(me.name, passing=True)
        nodes = [n for n in nodes if n["Service"]["ID"] == me.id]
        proxies = [p for p in proxies if p["Service"]["ID"] == me.sidecar_id]
        return nodes and proxies and (nodes, proxies)
    nodes, proxies = eventually(f"{me.id} and its sidecar to pass every check", passing,
                                logs=(me.id, me.sidecar_id))
    checks = {c["CheckID"]: c["Status"] for entry in nodes + proxies for c in entry["Checks"]}
    assert f"{me.id}-http" in checks, dump(checks)
    assert set(checks.values()) == {"passing"}, dump(checks)
    assert nodes[0]["Service"]["Meta"]["version"] == me.version
    proxy = proxies[0]["Service"]
    assert proxy["Kind"] == "connect-proxy"
    assert proxy["Port"] == me.sidecar_port
    assert proxy["Proxy"]["DestinationServiceName"] == me.name
    assert proxy["Proxy"]["DestinationServiceID"] == me.id


def test_upstreams_are_declared_in_consul(consul_client, mesh):
    def upstreams(service):
        _, proxies = consul_client.health.connect(service)
        return sorted(u["DestinationName"] for u in proxies[0]["Service"]["Proxy"].get("Upstreams") or [])
    assert upstreams("orders") == ["products", "users"]
    assert upstreams("frontend") == ["orders", "products", "users"]
    assert upstreams("users") == [] and upstreams("products") == []


@pytest.mark.parametrize("service", INSTANCES, ids=str)
def test_envoy_is_live_and_rejected_no_config(mesh, service):
    ready = requests.get(f"http://127.0.0.1:{INSTANCES[service].admin_port}/ready", timeout=5)
    assert ready.status_code == 200 and ready.text.strip() == "LIVE"
    stats = envoy_stats(service)
    # Envoy counts each xDS update it accepted and each it rejected, per resource type
    accepted = {k: v for k, v in stats.items() if k.endswith(".update_success")}
    assert stats["cluster_manager.cds.update_success"] >= 1
    assert stats["listener_manager.lds.update_success"] >= 1
    rejected = {k: v for k, v in stats.items() if k.endswith(".update_rejected") and v}
    assert rejected == {}, f"Envoy rejected config from Consul: {dump(rejected)}\naccepted: {dump(accepted)}"


@pytest.mark.parametrize("service", SERVICES)
def test_sidecar_refuses_plaintext(mesh, service):
    """The public port speaks only mTLS: a plain HTTP request gets no HTTP answer."""
    with socket.create_connection(("127.0.0.1", MESH[service].sidecar_port), timeout=5) as sock:
        sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = sock.recv(1024)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"HTTP/"), answer


@pytest.mark.parametrize("service", SERVICES)
def test_sidecar_refuses_tls_without_client_certificate(mesh_tls, service):
    context = mesh_tls.context_without_certificate()
    connection = http.client.HTTPSConnection("127.0.0.1", MESH[service].sidecar_port, context=context, timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        connection.request("GET", "/healthcheck")
        connection.getresponse()
    connection.close()


def test_intentions_refuse_a_call_they_do_not_allow(mesh_tls):
    """users has no business with orders: with users' own certificate, orders' sidecar says 403."""
    status, body = mesh_tls.call_as("users", "orders", "GET", "/api/orders")
    assert status == 403 and "RBAC" in body, body


def test_intentions_allow_the_declared_call(mesh_tls):
    """The same request with frontend's certificate passes: the 403 above is the intention's doing."""
    status, body = mesh_tls.call_as("frontend", "orders", "GET", "/api/orders")
    assert status == 200, body


@pytest.mark.parametrize(
    "source, destination, method, path",
    [
        ("orders", "users", "GET", "/api/users"),           # orders may read one user, not list them
        ("orders", "users", "POST", "/api/users"),
        ("frontend", "users", "DELETE", "/api/users/1"),
        ("frontend", "products", "PUT", "/products/reservations/x"),  # only orders reserves stock
        ("users", "products", "GET", "/products"),
        ("products", "users", "GET", "/api/users/1"),
    ],
)
def test_l7_intentions_refuse_methods_and_paths(mesh_tls, source, destination, method, path):
    status, body = mesh_tls.call_as(source, destination, method, path)
    assert status == 403 and "RBAC" in body, (status, body)


def test_l7_intentions_allow_orders_to_read_a_user(mesh_tls, make_user):
    user = make_user()
    status, body = mesh_tls.call_as("orders", "users", "GET", f"/api/users/{user['id']}")
    assert status == 200, body


def test_status_reports_every_component_passing(mesh):
    from conftest import meshctl

    result = meshctl("status", timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    for service in SERVICES:
        for component in (service, f"{service}-sidecar-proxy"):
            line = next(l for l in result.stdout.splitlines() if l.split()[0] == component)
            assert "running" in line and "passing" in line, line
    # the observer's token reads the peerings (none here: docs/peering.md)
    assert "peerings: none (docs/peering.md)" in result.stdout.splitlines(), result.stdout


def test_up_heals_a_killed_sidecar(consul_client, http):
    """SIGKILL users' Envoy: Consul notices, frontend cannot reach users, `meshctl up` brings it back."""
    import os
    import signal

    from conftest import FRONTEND, meshctl
    from meshctl.local import proc

    sidecar = proc("users-sidecar-proxy")
    os.kill(sidecar.pid(), signal.SIGKILL)
    eventually("Consul to mark users' sidecar critical",
               lambda: any(c["Status"] == "critical" for c in consul_client.agent.checks().values()
                           if c["ServiceID"] == "users-sidecar-proxy"), timeout=15)
    response = http.get(f"{FRONTEND}/api/users", timeout=10)
    assert response.status_code == 503
    assert response.json()["error"]["fields"]["upstream"] == "users"

    result = meshctl("up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "users sidecar: starting" in result.stdout
    assert "products sidecar: already running" in result.stdout
    eventually("frontend to reach users again", lambda: http.get(f"{FRONTEND}/api/users", timeout=10).ok,
               timeout=20, logs=("users-sidecar-proxy",))


def test_operators_cli_lists_denies_and_deletes(mesh_tls):
    from conftest import SECRETS, meshctl

    # the operator's token, as for the consul CLI; without one Consul refuses, and says so
    refused = meshctl("intentions", "allow", "users", "orders", timeout=30)
    assert refused.returncode == 1 and "Consul refused" in refused.stderr, refused.stderr
    operator = {"CONSUL_HTTP_TOKEN_FILE": str(SECRETS / "acl" / "management.token")}

    def cli(*args):
        return meshctl("intentions", *args, timeout=30, env=operator)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert any(l.split()[:3] == ["orders", "products", "L7"] for l in listed.stdout.splitlines()), listed.stdout
    try:
        assert cli("allow", "users", "orders").returncode == 0
        assert any(l.split()[:3] == ["users", "orders", "allow"] for l in cli("list").stdout.splitlines())
        eventually("users to be let into orders", lambda: mesh_tls.call_as("users", "orders", "GET", "/api/orders")[0] == 200)
    finally:
        deleted = cli("delete", "users", "orders")
        assert deleted.returncode == 0, deleted.stderr
    eventually("users to be refused again (the default deny)",
               lambda: mesh_tls.call_as("users", "orders", "GET", "/api/orders")[0] == 403)
    missing = cli("delete", "users", "orders")
    assert missing.returncode == 1 and "no intention" in missing.stderr
