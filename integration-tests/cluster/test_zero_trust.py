"""The guarantee in the cluster: no app container can take a service's mesh certificate from any Consul
agent it reaches (the client agents on the nodes cache every local sidecar's) or change an
intention; apps hold no client certificate and no token but the frontends' read-only one; each
service's token and the gateway's are their own identity only. (The probes are dockerstack.py's,
which the container suite makes too.)"""

import pytest

import dockerstack
from cluster_stack import GATEWAY_SERVICE, GATEWAYS, INSTANCES, MESH, NODES, SERVERS, STACK, container, docker, instances

SERVICES = tuple(MESH)
# one app container per service, on alternating nodes
PROBED = [instances(service)[n % 2] for n, service in enumerate(SERVICES)]


@pytest.mark.parametrize("app", PROBED, ids=lambda i: i.name)
def test_no_app_container_can_take_a_certificate_or_change_an_intention(consul_client, app):
    dockerstack.assert_no_certificate_or_intention_from(consul_client, STACK, app.name, app.service,
                                                        agents=(*SERVERS, *NODES),
                                                        running={s: len(instances(s)) for s in SERVICES})


def test_apps_hold_no_client_certificate_and_no_token_but_the_frontends(stack):
    dockerstack.assert_no_secret_but_the_frontends_token(STACK, [(i.name, i.service) for i in INSTANCES])


def test_instances_of_a_service_share_its_one_token(consul_client):
    for service in SERVICES:
        secrets = {docker("exec", container(i.sidecar), "cat", "/consul/secrets/service.token").stdout.strip()
                   for i in instances(service)}
        assert len(secrets) == 1, service
        assert len([t for t in consul_client.acl.token.list()
                    if [s["ServiceName"] for s in t.get("ServiceIdentities") or []] == [service]]) == 1


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_token_has_its_identity_only_and_cannot_write_intentions(consul_http, service):
    dockerstack.assert_token_has_its_identity_only(consul_http, STACK, instances(service)[0].sidecar, service,
                                                   "orders")


def test_the_gateways_token_is_its_own_identity_and_writes_no_intention(consul_http):
    for gateway in GATEWAYS:  # one token, shared by the gateway on every node
        dockerstack.assert_token_has_its_identity_only(consul_http, STACK, gateway.name, GATEWAY_SERVICE, "frontend")
    assert len({docker("exec", container(g.name), "cat", "/consul/secrets/service.token").stdout
                for g in GATEWAYS}) == 1


def test_the_mesh_gateways_token_carries_peerings_and_writes_no_intention_or_peering(consul_http):
    secret = docker("exec", container("mesh-gateway"), "cat", "/consul/secrets/service.token").stdout.strip()
    me = consul_http("GET", "/v1/acl/token/self", secret).json()
    assert ([s["ServiceName"] for s in me["ServiceIdentities"]], [p["Name"] for p in me["Policies"]]) == \
        (["mesh-gateway"], ["mesh-gateway"]), me
    write = consul_http("PUT", "/v1/config", secret, json={"Kind": "service-intentions", "Name": "frontend",
                                                           "Sources": [{"Name": "*", "Action": "allow"}]})
    assert write.status_code == 403 and "intention:write" in write.text, write.text
    peer = consul_http("POST", "/v1/peering/token", secret, json={"PeerName": "zero-trust-probe"})
    assert peer.status_code == 403 and "peering:write" in peer.text, peer.text
