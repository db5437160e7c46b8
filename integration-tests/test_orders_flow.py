"""The order flow end to end through the mesh: frontend -> orders -> users, products."""

import time
from decimal import Decimal

import pytest

from conftest import FRONTEND, ORDERS, envoy_stats, eventually, log_tail
from entries import put_entry, with_source_denied
from shoptesting import concurrently


def place(http, base, user_id, items, **headers):
    return http.post(f"{base}/api/orders", json={"user_id": user_id, "items": items}, headers=headers, timeout=15)


def stock(http, product_id):
    return http.get(f"{FRONTEND}/api/products/{product_id}", timeout=10).json()["stock"]


@pytest.mark.parametrize("base", [FRONTEND, ORDERS], ids=["through-frontend", "through-orders"])
def test_order_flow(http, make_user, make_product, base):
    user = make_user()
    a, b = make_product(price="19.99", stock=5), make_product(price="0.35", stock=8)
    response = place(http, base, user["id"], [{"product_id": a["id"], "quantity": 2},
                                              {"product_id": b["id"], "quantity": 3}])
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["total"] == str(Decimal("19.99") * 2 + Decimal("0.35") * 3) == "41.03"
    assert order["status"] == "confirmed"
    assert {(i["product_id"], i["quantity"], i["unit_price"]) for i in order["items"]} == {
        (a["id"], 2, "19.99"), (b["id"], 3, "0.35")}
    assert stock(http, a["id"]) == 3 and stock(http, b["id"]) == 5
    assert http.get(f"{FRONTEND}/api/orders/{order['id']}", timeout=10).json() == order
    # who served it: the one instance of each in make up's dc1, in the order they were called
    relay = ["frontend/v1/dc1/frontend"] if base == FRONTEND else []
    assert response.headers["Served-By"].split(", ") == relay + [
        "orders/v1/dc1/orders", "users/v1/dc1/users", "products/v1/dc1/products"]


def test_frontend_page_lists_what_the_services_hold(http, make_user, make_product):
    user, product = make_user(), make_product()
    page = http.get(f"{FRONTEND}/", timeout=10)
    assert page.status_code == 200
    assert user["email"] in page.text and product["name"] in page.text
    assert 'role="alert"' not in page.text


def test_idempotency_key_through_the_mesh(http, make_user, make_product):
    user, product = make_user(), make_product(stock=4)
    items = [{"product_id": product["id"], "quantity": 1}]
    first = place(http, FRONTEND, user["id"], items, **{"Idempotency-Key": f"it-{product['id']}"})
    again = place(http, FRONTEND, user["id"], items, **{"Idempotency-Key": f"it-{product['id']}"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert stock(http, product["id"]) == 3


def test_fifty_concurrent_orders_for_ten_in_stock(http, make_user, make_product):
    user, product = make_user(), make_product(price="1.00", stock=10)

    def attempt(_):
        import requests
        with requests.Session() as session:
            session.trust_env = False
            return session.post(f"{FRONTEND}/api/orders", timeout=60, json={
                "user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]}).status_code

    statuses = concurrently(attempt, 50)
    assert sorted(statuses) == [201] * 10 + [409] * 40, sorted(statuses)
    assert stock(http, product["id"]) == 0
    orders = http.get(f"{FRONTEND}/api/orders?user_id={user['id']}", timeout=10).json()
    assert orders["total"] == 10


def test_denying_orders_to_products_breaks_ordering_until_restored(consul_client, http, mesh_tls,
                                                                   make_user, make_product):
    user, product = make_user(), make_product(stock=5)
    items = [{"product_id": product["id"], "quantity": 1}]
    original = consul_client.config.get("service-intentions", "products")
    updates = envoy_stats("products")["listener_manager.lds.update_success"]
    written = time.monotonic()
    assert put_entry(consul_client, with_source_denied(original, "orders"))
    try:
        # the deny reaches products' Envoy as a listener update; connections opened before it keep
        # the old rules until drained (2s, set by meshctl), so wait for the update and the drain
        def applied():
            stats = envoy_stats("products")
            return (stats["listener_manager.lds.update_success"] > updates
                    and stats["listener_manager.total_filter_chains_draining"] == 0
                    and stats["listener_manager.total_listeners_draining"] == 0)
        eventually("products' Envoy to take the deny and drain old connections", applied, timeout=15,
                   logs=("products-sidecar-proxy",))
        propagated = time.monotonic() - written
        assert propagated < 10, f"the deny took {propagated:.1f}s to reach Envoy"

        before = stock(http, product["id"])
        # a pooled connection the drain just closed can still fail one call as "unavailable"
        response, took = eventually("orders to report the mesh's denial", lambda: (
            (started := time.monotonic(), r := place(http, FRONTEND, user["id"], items))
            and r.status_code == 503 and r.json()["error"]["code"] == "upstream_denied"
            and (r, time.monotonic() - started)), timeout=15)
        error = response.json()["error"]
        assert error["code"] == "upstream_denied", error
        assert "products" in error["message"] and "intention" in error["message"]
        assert took < 5
        assert stock(http, product["id"]) == before
        assert mesh_tls.call_as("orders", "products", "GET", "/products")[0] == 403
    finally:
        assert put_entry(consul_client, original)

    healed = eventually("ordering to work again after restoring the intention",
                        lambda: (r := place(http, FRONTEND, user["id"], items)).status_code == 201 and r,
                        timeout=15, logs=("orders", "orders-sidecar-proxy"))
    assert healed.json()["items"][0]["product_id"] == product["id"]
    assert stock(http, product["id"]) == before - 1


def test_stopped_products_goes_critical_then_heals(consul_client, http, make_user, make_product):
    from conftest import meshctl
    from meshctl.local import proc

    user, product = make_user(), make_product(stock=5)
    items = [{"product_id": product["id"], "quantity": 1}]
    assert proc("products").stop(), "products was not running"
    try:
        def critical():
            _, checks = consul_client.health.checks("products")
            return any(c["CheckID"] == "products-http" and c["Status"] == "critical" for c in checks) and checks
        eventually("Consul to mark products critical", critical, timeout=15)

        started = time.monotonic()
        response = place(http, FRONTEND, user["id"], items)
        took = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.json()["error"]["fields"]["upstream"] == "products"
        assert took < 5, f"orders took {took:.1f}s to give up on products"
        orders = http.get(f"{FRONTEND}/api/orders?user_id={user['id']}", timeout=10).json()
        assert orders["total"] == 0
    finally:
        result = meshctl("up")
        assert result.returncode == 0, result.stdout + result.stderr + log_tail("products")

    def passing():
        _, nodes = consul_client.health.service("products", passing=True)
        return bool(nodes)
    eventually("products to pass its health check again", passing, timeout=30, logs=("products",))
    healed = eventually("an order to succeed again",
                        lambda: (r := place(http, FRONTEND, user["id"], items)).status_code == 201 and r,
                        timeout=20)
    assert healed.json()["total"] == product["price"]
    assert stock(http, product["id"]) == 4
