"""How a caller's Envoy splits a service in several versions, and whether it can reach every version it
sends requests to (meshctl.envoy_admin), against a stand-in admin listener serving what Envoy serves."""

import json
from urllib.parse import urlsplit

import pytest
from flask import Flask

from meshctl import envoy_admin, topology
from meshctl.tests.conftest import REPO
from shoptesting import serve

CLUSTER = "{subset}products.default.dc1.internal.0f1e.consul"


def route_config(*weights: tuple[str, int]) -> dict:
    """products' route config as Consul gives it to a caller: each route split by ``weights`` (subset,
    Envoy's weight out of 10,000), or one cluster when a single unnamed subset is given."""
    if weights == (("-", 10000),):
        action = {"cluster": CLUSTER.format(subset="")}
    else:
        action = {"weighted_clusters": {"clusters": [{"name": CLUSTER.format(subset=f"{s}."), "weight": w}
                                                     for s, w in weights]}}
    routes = [{"match": {"prefix": p}, "route": json.loads(json.dumps(action))} for p in ("/products/reservations/", "/")]
    return {"configs": [{"route_config": {"name": "products", "virtual_hosts": [{"name": "products",
                                                                                   "routes": routes}]}},
                        {"route_config": {"name": "users", "virtual_hosts": [{"routes": [
                            {"route": {"cluster": "users.default.dc1.internal.0f1e.consul"}}]}]}}]}


@pytest.fixture
def envoy():
    """A stand-in admin listener: set ``.routes`` (a config dump) and ``.healthy`` ({cluster: n})."""
    class Envoy:
        routes: dict = {"configs": []}
        healthy: dict = {}
        port: int = 0
    app = Flask("envoy-admin")
    app.add_url_rule("/config_dump", "config_dump", lambda: json.dumps(Envoy.routes))
    app.add_url_rule("/stats", "stats", lambda: "".join(f"cluster.{c}.membership_healthy: {n}\n"
                                                        for c, n in Envoy.healthy.items()))
    with serve(app) as url:
        Envoy.port = urlsplit(url).port
        yield Envoy


@pytest.mark.parametrize("weights, split", [
    ((("v1", 9000), ("v2", 1000)), {"v1": 90, "v2": 10}),
    ((("v1", 10000), ("v2", 0)), {"v1": 100}),  # Consul keeps the 0-weight split: Envoy sends it nothing
    ((("-", 10000),), {"-": 100}),
])
def test_the_split_a_caller_routes_by(envoy, weights, split):
    envoy.routes = route_config(*weights)
    assert envoy_admin.split_weights(envoy.port, "products") == split
    assert envoy_admin.split_weights(envoy.port, "users") == {"-": 100}
    assert envoy_admin.split_weights(envoy.port, "orders") is None


def test_routes_that_split_differently_are_said_to(envoy):
    envoy.routes = route_config(("v1", 9000), ("v2", 1000))
    envoy.routes["configs"][0]["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["weighted_clusters"][
        "clusters"][1]["weight"] = 2000
    with pytest.raises(ValueError, match="split differently"):
        envoy_admin.split_weights(envoy.port, "products")


@pytest.mark.parametrize("weights, healthy, missing", [
    # all to v1: v1 must have an endpoint, v2 need not
    ((("v1", 10000), ("v2", 0)), {"v1.": 1, "v2.": 0}, []),
    ((("v1", 10000), ("v2", 0)), {"v1.": 0, "v2.": 1}, ["products"]),
    # 90/10: both
    ((("v1", 9000), ("v2", 1000)), {"v1.": 1, "v2.": 0}, ["products"]),
    ((("v1", 9000), ("v2", 1000)), {"v1.": 2, "v2.": 1}, []),
    # routes not known yet: any of its clusters
    ((), {"v1.": 0, "v2.": 1}, []),
    ((), {"v1.": 0, "v2.": 0}, ["products"]),
])
def test_an_upstream_is_ready_when_every_version_it_is_sent_to_has_a_healthy_endpoint(envoy, weights, healthy,
                                                                                        missing):
    envoy.routes = route_config(*weights) if weights else {"configs": []}
    envoy.healthy = {CLUSTER.format(subset=s): n for s, n in healthy.items()} | {
        "users.default.dc1.internal.0f1e.consul": 1}
    orders = topology.load(REPO / "consul-config")["orders"]
    caller = topology.replace(orders, admin_port=envoy.port)
    assert envoy_admin.upstreams_without_endpoints(caller) == missing
