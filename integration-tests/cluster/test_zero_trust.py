"""The guarantee in the cluster: no app container can take a service's mesh certificate from any Consul
agent it reaches (the client agents on the nodes cache every local sidecar's) or change an
intention; apps hold no client certificate and no token but the frontends' read-only one; the
gateway's token is its own identity only."""

import pytest
import requests

import leafprobe
from cluster_stack import CONSUL_PORT, GATEWAY, INSTANCES, MESH, NODES, SERVERS, container, docker, instances

SERVICES = tuple(MESH)
# one app container per service, on alternating nodes
PROBED = [instances(service)[n % 2].name for n, service in enumerate(SERVICES)]


@pytest.mark.parametrize("app", PROBED)
def test_no_app_container_can_take_a_certificate_or_change_an_intention(consul_client, app):
    # every sidecar holds its certificate by now: both client agents' caches have every service's
    for service in SERVICES:
        assert len(consul_client.health.connect(service, passing=True)[1]) == len(NODES), service
    before = consul_client.config.get("service-intentions", "orders")
    seen = leafprobe.attack(container(app), SERVICES, leafprobe.consul_addresses(*SERVERS, *NODES))
    if app.startswith("frontend"):  # its read-only token, and the gate on its loopback
        assert "/run/consul/token" in seen["tokens"], seen["tokens"]
        gate = [r for r in seen["results"] if r["base"] == "http://127.0.0.1:8500"]
        assert gate and all(r["outcome"] == 403 for r in gate), [r for r in gate if r["outcome"] != 403]
    else:
        assert seen["tokens"] == ["none"], seen["tokens"]
    leaks = [r for r in seen["results"] if r["leaked"] or r["outcome"] == 200]
    assert not leaks, leaks[:5]
    # every agent's HTTPS API, servers' and client agents' alike: no TLS session without a client certificate
    for agent in (*SERVERS, *NODES):
        https = [r for r in seen["results"] if r["base"] == f"https://{agent}:8501"]
        assert https and all("CERTIFICATE_REQUIRED" in str(r["text"]) or r["outcome"] in ("SSLError", "URLError")
                             for r in https), (agent, https[:3])
    after = consul_client.config.get("service-intentions", "orders")
    assert after["ModifyIndex"] == before["ModifyIndex"]


def test_apps_hold_no_client_certificate_and_no_token_but_the_frontends(stack):
    for i in INSTANCES:
        found = docker("exec", container(i.name), "sh", "-c",
                       "find /run /var /tmp /home /root /consul /secrets /srv /mnt \\( -name '*.pem' -o "
                       "-name '*token*' -o -name '*.key' \\) -readable 2>/dev/null").stdout.split()
        expected = ["/run/consul/token"] if i.service == "frontend" else []
        assert found == expected, (i.name, found)


def test_instances_of_a_service_share_its_one_token(consul_client):
    for service in SERVICES:
        secrets = {docker("exec", container(i.sidecar), "cat", "/consul/secrets/service.token").stdout.strip()
                   for i in instances(service)}
        assert len(secrets) == 1, service
        assert len([t for t in consul_client.acl.token.list()
                    if [s["ServiceName"] for s in t.get("ServiceIdentities") or []] == [service]]) == 1


def test_the_gateways_token_is_its_own_identity_and_writes_no_intention(consul_ca, operator_cert):
    secret = docker("exec", container(GATEWAY), "cat", "/consul/secrets/service.token").stdout.strip()
    base = f"https://127.0.0.1:{CONSUL_PORT}"
    headers = {"X-Consul-Token": secret}
    me = requests.get(f"{base}/v1/acl/token/self", headers=headers, verify=str(consul_ca), cert=operator_cert,
                      timeout=5).json()
    assert [s["ServiceName"] for s in me["ServiceIdentities"]] == [GATEWAY] and not me.get("Policies"), me
    write = requests.put(f"{base}/v1/config", headers=headers, verify=str(consul_ca), cert=operator_cert, timeout=5,
                         json={"Kind": "service-intentions", "Name": "frontend",
                               "Sources": [{"Name": "*", "Action": "allow"}]})
    assert write.status_code == 403 and "intention:write" in write.text, write.text
