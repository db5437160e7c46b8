"""Metrics and traces in containers: the prometheus container finds every app and Envoy in Consul's
catalogue (over TLS, with its client certificate and read-only token) and scrapes them; the jaeger
container takes every span, so an order is one trace across every app and sidecar."""

from collections import Counter

import ordertrace
import polling
from entries import put_entry, with_source_denied
from compose_stack import JAEGER_PORT, MESH, PROMETHEUS_PORT, logs
from dockerstack import session

PROMETHEUS = f"http://127.0.0.1:{PROMETHEUS_PORT}"
JAEGER = f"http://127.0.0.1:{JAEGER_PORT}"
ORDERS_TO_PRODUCTS = 'envoy_cluster_upstream_rq_total{consul_source_service="orders",consul_destination_service="products"}'
EVERYONE = set(MESH) | {s.sidecar_id for s in MESH.values()}


def get(url: str, **params):
    with session() as http:
        return http.get(url, params=params, timeout=10)


def eventually(what, probe, timeout=60, interval=1, services=("prometheus", "jaeger")):
    return polling.eventually(what, probe, timeout, interval, lambda: "\n".join(logs(s) for s in services))


def total(expression: str) -> float:
    result = get(f"{PROMETHEUS}/api/v1/query", query=f"sum({expression})").json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_scrapes_every_app_and_every_envoy(stack):
    # how many targets of each (job, service) in each health: products' two versions are two
    wanted = Counter({(job, name, "up"): len(s.instances) for name, s in MESH.items() for job in ("apps", "envoys")})

    def targets():
        active = get(f"{PROMETHEUS}/api/v1/targets").json()["data"]["activeTargets"]
        return Counter((t["labels"]["job"], t["labels"].get("service"), t["health"]) for t in active)
    eventually("every app and Envoy to be a target, and up", lambda: targets() == wanted)


def test_orders_placed_show_on_the_orders_to_products_edge(stack, api):
    eventually("the edge's first sample", lambda: get(f"{PROMETHEUS}/api/v1/query", query=ORDERS_TO_PRODUCTS)
               .json()["data"]["result"])
    before = total(ORDERS_TO_PRODUCTS)
    user, product = api.user(), api.product(stock=20)
    for _ in range(3):
        assert api.order(user, product).status_code == 201
    eventually("orders -> products to count 3 more requests", lambda: total(ORDERS_TO_PRODUCTS) - before >= 3)
    traffic = api.get("/mesh/traffic.json").json()
    assert traffic["problem"] is None, traffic["problem"]
    assert {(e["from"], e["to"]) for e in traffic["edges"]} >= {("orders", "products"), ("orders", "users")}


def test_an_order_is_one_trace_through_every_app_and_sidecar(stack, api):
    user, product = api.user(), api.product(stock=5)
    placed = api.order(user, product, **ordertrace.sampled())
    assert placed.status_code == 201, placed.text
    trace = eventually("the order's trace to hold every app and sidecar",
                       ordertrace.complete(JAEGER, placed.json()["id"], EVERYONE), timeout=30)
    assert {s["traceID"] for s in trace["spans"]} == {trace["traceID"]}
    page = api.get(f"/orders/{placed.json()['id']}/trace")
    assert page.status_code == 200 and all(f'data-service="{name}"' in page.text for name in EVERYONE)


def test_consuls_ui_reads_prometheus_through_its_metrics_proxy(consul_get):
    answer = consul_get("/v1/internal/ui/metrics-proxy/api/v1/query", query="up")
    assert answer["data"]["result"], answer


def test_calls_the_intentions_refuse_show_in_the_denied_counter(stack, consul_client, api):
    denied_at_products = 'envoy_http_rbac_denied{local_cluster="products"}'
    eventually("products' Envoy's RBAC counters scraped", lambda: get(
        f"{PROMETHEUS}/api/v1/query", query=denied_at_products).json()["data"]["result"])
    before = total(denied_at_products)
    user, product = api.user(), api.product(stock=10)
    original = consul_client.config.get("service-intentions", "products")
    assert put_entry(consul_client, with_source_denied(original, "orders"))
    try:
        eventually("orders to report the mesh's denial", lambda: (
            (r := api.order(user, product)).status_code == 503 and r.json()["error"]["code"] == "upstream_denied"),
            timeout=20)
        eventually("the RBAC-denied counter to rise", lambda: total(denied_at_products) > before, timeout=30)
    finally:
        assert put_entry(consul_client, original)
    eventually("ordering to work again", lambda: api.order(user, product).status_code == 201, timeout=20)
