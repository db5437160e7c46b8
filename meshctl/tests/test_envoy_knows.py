"""What the rolling restart asks every Envoy (`python3 -m meshctl.container knows SERVICE N`), against
a stand-in admin listener serving the stats Envoy serves."""

from urllib.parse import urlsplit

import pytest
from flask import Flask

from meshctl import container, envoy_admin
from shoptesting import serve

STATS = """cluster.local_app.membership_healthy: 1
cluster.v1.products.default.dc1.internal.0f1e.consul.membership_healthy: 2
cluster.v2.products.default.dc1.internal.0f1e.consul.membership_healthy: 1
cluster.users.default.dc1.internal.0f1e.consul.membership_healthy: 1
cluster.users.default.dc1.internal.0f1e.consul.membership_total: 2
"""


@pytest.fixture
def admin():
    """A stand-in Envoy admin listener serving STATS on a loopback port; its port."""
    envoy = Flask("envoy-admin")
    envoy.get("/stats")(lambda: STATS)
    with serve(envoy) as url:
        yield urlsplit(url).port


def test_healthy_endpoints_are_counted_per_upstream_and_the_local_app_is_not_one(admin):
    # products in two versions: a cluster per version's subset, added up
    assert envoy_admin.healthy_endpoints(admin) == {"products": 3, "users": 1}


@pytest.mark.parametrize("cluster, upstream", [
    ("users.default.dc1.internal.0f1e-22.consul", "users"), ("v2.products.default.dc1.internal.0f1e.consul", "products"),
    ("local_app", None), ("self_admin", None), ("internal.x", None)])
def test_the_upstream_of_a_cluster_is_read_past_its_subset(cluster, upstream):
    assert envoy_admin.upstream_of(cluster) == upstream


def test_an_envoy_that_does_not_answer_knows_nothing():
    assert envoy_admin.healthy_endpoints(1) is None


@pytest.mark.parametrize("service, count, status", [
    ("products", "2", 0),  # knows both
    ("users", "2", 1),  # one of two: the rolling restart waits
    ("orders", "2", 0),  # does not call orders: nothing to wait for
    ("users", "x", 2),  # usage
])
def test_knows(admin, monkeypatch, service, count, status):
    monkeypatch.setenv("GATEWAY", "ingress")  # a gateway's admin port needs no service definition
    monkeypatch.setattr(container, "GATEWAY_ADMIN_PORT", admin)
    assert container.knows(service, count) == status


@pytest.mark.parametrize("service, count, status", [
    ("products", "3", 0),  # three, none left: nothing to forget
    ("products", "2", 1),  # still holds three: the instance that left is still called
    ("users", "0", 1),  # the one healthy users endpoint is still held
    ("orders", "0", 0),  # does not call orders
])
def test_forgot(admin, monkeypatch, service, count, status):
    monkeypatch.setenv("GATEWAY", "ingress")
    monkeypatch.setattr(container, "GATEWAY_ADMIN_PORT", admin)
    assert container.knows(service, count, at_most=True) == status
