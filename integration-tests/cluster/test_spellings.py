"""An intention's deny holds however the path is spelled, in the cluster (spellings.py): the ingress
gateway's deny of the frontend's /metrics, spelled every way from outside, and the services' denies
from inside an instance on each node; every HTTP listener that decides or routes carries the
normalization (consul-config/patches/)."""

import json

import pytest

import spellings
from cluster_stack import GATEWAYS, INGRESS_PORTS, INSTANCES, MESH, container, envoy, instances
from meshctl.container import GATEWAY_ADMIN_PORT


@pytest.mark.parametrize("gateway", sorted(INGRESS_PORTS))
def test_no_spelling_of_the_frontends_metrics_is_public_through_an_ingress(stack, gateway):
    port = INGRESS_PORTS[gateway]
    method, path, reads_as = spellings.INGRESS_DENIED
    status, body = spellings.request("127.0.0.1", port, method, path)
    assert status == 403 and "RBAC" in body, (status, body)
    rows = [(method, spelled, *spellings.request("127.0.0.1", port, method, spelled))
            for spelled in spellings.spellings(path)]
    print(f"{gateway} {method} {path}:\n{spellings.table(rows)}")
    failed = spellings.failures(rows, reads_as)
    assert not failed, spellings.table(failed)
    # and the shop itself is still served through it
    assert [spellings.request("127.0.0.1", port, "GET", p)[0] for p in ("/", "/api/products")] == [200, 200]


@pytest.mark.parametrize("source, destination, method, denied, reads_as", spellings.DENIED)
def test_no_spelling_of_a_denied_path_gets_through_the_mesh(stack, source, destination, method, denied, reads_as):
    instance = instances(source)[len(denied) % 2]  # on one node or the other
    plain, rows = spellings.through_the_mesh(container(instance.name), source, destination, method,
                                             denied.format(rid="spelled-1"))
    assert plain[2] == 403 and "RBAC" in plain[3], plain
    failed = spellings.failures(rows, reads_as)
    assert not failed, spellings.table(failed)


def test_every_sidecar_and_the_gateway_normalize_what_comes_in(stack):
    expected = {**spellings.NORMALIZING, "headers_with_underscores_action": "REJECT_REQUEST"}
    envoys = [(i.sidecar, i.definition.admin_port, "public_listener") for i in INSTANCES]
    envoys += [(g.name, GATEWAY_ADMIN_PORT, "http:") for g in GATEWAYS]
    for name, admin_port, listener in envoys:
        config = json.loads(envoy(name, admin_port, "/config_dump?resource=dynamic_listeners"))
        managers = spellings.managers(config, listener)
        assert managers, (name, [c["name"] for c in config["configs"]])
        assert all(spellings.normalization(m) == expected for m in managers), (name, managers)
