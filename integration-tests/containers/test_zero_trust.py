"""The attacks that worked before ACLs, tried again from inside every app container: none may yield
another service's mesh certificate or change an intention. Plus each token's exact rights."""

import json

import pytest
import requests

import leafprobe
from compose_stack import CONSUL_PORT, MESH, container, docker

SERVICES = tuple(MESH)


@pytest.mark.parametrize("app", SERVICES)
def test_no_app_container_can_take_a_certificate_or_change_an_intention(consul_client, app):
    # every sidecar holds its certificate by now: the agent's cache has every service's
    for service in SERVICES:
        assert consul_client.health.connect(service, passing=True)[1], f"{service} has no passing sidecar"
    before = consul_client.config.get("service-intentions", "orders")
    seen = leafprobe.attack(container(app), SERVICES, leafprobe.consul_addresses("consul"))
    if app == "frontend":  # it holds its own token, read-only, and reaches the gate on its loopback
        assert "/run/consul/token" in seen["tokens"], seen["tokens"]
        gate = [r for r in seen["results"] if r["base"] == "http://127.0.0.1:8500"]
        assert gate and all(r["outcome"] == 403 for r in gate), [r for r in gate if r["outcome"] != 403]
    else:
        assert seen["tokens"] == ["none"], seen["tokens"]
    leaks = [r for r in seen["results"] if r["leaked"] or r["outcome"] == 200]
    assert not leaks, json.dumps(leaks, indent=1)
    # Consul's HTTPS API, reachable from every app: no TLS session without a client certificate
    https = [r for r in seen["results"] if r["base"] == "https://consul:8501"]
    assert https and all("CERTIFICATE_REQUIRED" in str(r["text"]) or r["outcome"] in ("SSLError", "URLError")
                         for r in https), https[:3]
    after = consul_client.config.get("service-intentions", "orders")
    assert after["ModifyIndex"] == before["ModifyIndex"]


def test_apps_hold_no_client_certificate_and_no_token_but_the_frontends(stack):
    for app in SERVICES:
        found = docker("exec", container(app), "sh", "-c",
                       "find /run /var /tmp /home /root /consul /secrets /srv /mnt \\( -name '*.pem' -o "
                       "-name '*token*' -o -name '*.key' \\) -readable 2>/dev/null").stdout.split()
        expected = ["/run/consul/token"] if app == "frontend" else []
        assert found == expected, (app, found)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_token_has_its_identity_only_and_cannot_write_intentions(consul_client, consul_ca,
                                                                             operator_cert, service):
    secret = docker("exec", container(f"{service}-sidecar"), "cat", "/consul/secrets/service.token").stdout.strip()
    base = f"https://127.0.0.1:{CONSUL_PORT}"
    headers = {"X-Consul-Token": secret}
    me = requests.get(f"{base}/v1/acl/token/self", headers=headers, verify=str(consul_ca), cert=operator_cert,
                      timeout=5).json()
    assert [s["ServiceName"] for s in me["ServiceIdentities"]] == [service] and not me.get("Policies"), me
    write = requests.put(f"{base}/v1/config", headers=headers, verify=str(consul_ca), cert=operator_cert, timeout=5,
                         json={"Kind": "service-intentions", "Name": "orders",
                               "Sources": [{"Name": "*", "Action": "allow"}]})
    assert write.status_code == 403 and "intention:write" in write.text, write.text
    # the token file: its sidecar's user only
    mode = docker("exec", container(f"{service}-sidecar"), "stat", "-c", "%a %u", "/consul/secrets/service.token")
    assert mode.stdout.split() == ["600", "10002"], mode.stdout


@pytest.mark.parametrize("method, path", [("PUT", "/v1/config"), ("PUT", "/v1/kv/zero-trust"), ("GET", "/v1/acl/tokens")])
def test_anonymous_requests_are_refused(consul_ca, operator_cert, method, path):
    answer = requests.request(method, f"https://127.0.0.1:{CONSUL_PORT}{path}", verify=str(consul_ca),
                              cert=operator_cert, timeout=5, json={"Kind": "service-intentions", "Name": "orders",
                                                                    "Sources": [{"Name": "*", "Action": "allow"}]})
    assert answer.status_code == 403 and "Permission denied" in answer.text, answer.text


def test_the_frontends_token_reads_and_writes_nothing(consul_client, consul_ca, operator_cert):
    secret = docker("exec", container("frontend"), "cat", "/run/consul/token").stdout.strip()
    me = requests.get(f"https://127.0.0.1:{CONSUL_PORT}/v1/acl/token/self", headers={"X-Consul-Token": secret},
                      verify=str(consul_ca), cert=operator_cert, timeout=5).json()
    assert [p["Name"] for p in me["Policies"]] == ["mesh-read"] and not me.get("ServiceIdentities"), me
