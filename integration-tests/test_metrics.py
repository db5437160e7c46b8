"""Metrics on the real mesh (local mode): the Prometheus `make up` starts scrapes every app and every
sidecar's Envoy, each found in Consul's catalogue, and what they count is what the shop did."""

import time
from collections import Counter

import pytest
import requests

from conftest import FRONTEND, MESH, eventually, token
from entries import put_entry, with_source_denied
from meshctl import metrics

PROMETHEUS = f"http://{metrics.ADDRESS}"
# Consul's Envoy bootstrap tags every stat with the services on both ends of it
ORDERS_TO_PRODUCTS = 'envoy_cluster_upstream_rq_total{consul_source_service="orders",consul_destination_service="products"}'
DENIED_AT_PRODUCTS = 'envoy_http_rbac_denied{local_cluster="products"}'


def query(expression: str) -> float | None:
    """The sum of an instant query's series, or None when it has none."""
    answer = requests.get(f"{PROMETHEUS}/api/v1/query", params={"query": f"sum({expression})"}, timeout=10)
    assert answer.status_code == 200, answer.text
    result = answer.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def risen(expression: str, before: float, by: float):
    """A probe: the series' sum once it has risen by at least ``by`` since ``before``."""
    def probe():
        now = query(expression)
        return now if now is not None and now - before >= by else None
    return probe


@pytest.fixture(scope="module")
def prometheus(mesh):
    eventually("Prometheus to answer (make up starts it once built)", metrics.ready, timeout=60,
               logs=("prometheus", "prometheus-build"))
    return PROMETHEUS


def targets() -> Counter:
    """How many targets of each (job, service) are in each health: products' two versions are two."""
    answer = requests.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()
    return Counter((t["labels"]["job"], t["labels"].get("service", "?"), t["health"])
                   for t in answer["data"]["activeTargets"])


def test_every_app_and_every_envoy_is_scraped(prometheus):
    wanted = Counter({(job, name, "up"): len(s.instances) for name, s in MESH.items() for job in ("apps", "envoys")})
    eventually("every app and Envoy to be a target, and up", lambda: targets() == wanted, timeout=60)


def test_orders_placed_show_on_the_orders_to_products_edge_and_in_the_apps(prometheus, http, make_user, make_product):
    eventually("the edge's first sample", lambda: query(ORDERS_TO_PRODUCTS) is not None, timeout=30)
    placed_query = 'http_requests_total{service="orders",method="POST",route="/api/orders",status="201"}'
    edge, placed = query(ORDERS_TO_PRODUCTS), query(placed_query) or 0
    user, product = make_user(), make_product(stock=100)
    orders = 5
    for _ in range(orders):
        answer = http.post(f"{FRONTEND}/api/orders", timeout=15,
                           json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
        assert answer.status_code == 201, answer.text
    # each order is one call from orders to products (the sale), or more when one is retried
    eventually(f"orders -> products to count {orders} more requests", risen(ORDERS_TO_PRODUCTS, edge, orders),
               timeout=30)
    eventually(f"orders to count {orders} more orders placed", risen(placed_query, placed, orders), timeout=30)
    latency = query('http_request_duration_seconds_count{service="orders",route="/api/orders",method="POST"}')
    assert latency and latency >= orders


def test_calls_the_intentions_refuse_show_in_the_denied_counter(prometheus, consul_client, http, make_user,
                                                                make_product):
    user, product = make_user(), make_product(stock=100)
    denied = query(DENIED_AT_PRODUCTS) or 0
    original = consul_client.config.get("service-intentions", "products")
    assert put_entry(consul_client, with_source_denied(original, "orders"))
    try:
        refused, deadline = 0, time.monotonic() + 20
        while refused < 3 and time.monotonic() < deadline:  # until the deny has reached products' Envoy
            answer = http.post(f"{FRONTEND}/api/orders", timeout=15,
                               json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
            refused += answer.status_code == 503
        assert refused >= 3, "orders to products was never refused"
        eventually("products' Envoy's RBAC denials to rise", risen(DENIED_AT_PRODUCTS, denied, 1), timeout=30)
    finally:
        assert put_entry(consul_client, original)
    # the allow reaches products' Envoy as a listener update too: until then orders are still refused,
    # and a connection orders' Envoy opened during the deny keeps the old listener's RBAC until it is
    # closed, so one order through is not enough for the next test: 5 in a row
    def orders_go_through() -> bool:
        return all(http.post(f"{FRONTEND}/api/orders", timeout=15, json={
            "user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]}).status_code == 201
            for _ in range(5))
    eventually("5 orders in a row to go through after restoring the intention", orders_go_through, timeout=30,
               logs=("orders", "orders-sidecar-proxy"))


def test_consuls_ui_reads_prometheus_through_its_metrics_proxy(prometheus, http):
    answer = http.get("http://127.0.0.1:8500/v1/internal/ui/metrics-proxy/api/v1/query",
                      params={"query": "up"}, headers={"X-Consul-Token": token("management")}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["result"], answer.text
