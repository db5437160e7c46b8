import threading

import pytest

from orders import create_app
from shopcommon.config import MissingSetting
from shoptesting import serve


def order(client, user_id, items, **headers):
    return client.post("/api/orders", json={"user_id": user_id, "items": items}, headers=headers)


def test_order_computes_total_and_takes_stock(client, shop):
    uid = shop.user()
    a, b = shop.product(price="19.99", stock=5), shop.product(price="0.10", stock=10)
    response = order(client, uid, [{"product_id": a, "quantity": 2}, {"product_id": b, "quantity": 3}])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["user_id"] == uid
    assert body["total"] == "40.28"
    assert body["status"] == "confirmed"
    assert body["created_at"].endswith("Z")
    assert {(i["product_id"], i["quantity"], i["unit_price"]) for i in body["items"]} == {
        (a, 2, "19.99"), (b, 3, "0.10")}
    assert shop.stock(a) == 3 and shop.stock(b) == 7
    assert client.get(f"/api/orders/{body['id']}").get_json() == body
    assert client.get("/api/orders").get_json()["items"] == [body]
    assert client.get(f"/api/orders?user_id={uid + 1}").get_json()["items"] == []


def test_unit_price_is_a_snapshot(client, shop, products_app):
    uid, pid = shop.user(), shop.product(price="5.00")
    first = order(client, uid, [{"product_id": pid, "quantity": 1}]).get_json()
    from products.models import Product
    from shopcommon import db
    with products_app.app_context():
        db.session.get(Product, pid).price_cents = 700
        db.session.commit()
    assert client.get(f"/api/orders/{first['id']}").get_json()["total"] == "5.00"
    assert order(client, uid, [{"product_id": pid, "quantity": 1}]).get_json()["total"] == "7.00"


def test_unknown_user_is_422_and_nothing_changes(client, shop):
    pid = shop.product(stock=3)
    response = order(client, 999, [{"product_id": pid, "quantity": 1}])
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"user_id": "no such user"}
    assert shop.stock(pid) == 3 and shop.orders_stored() == 0


def test_unknown_product_is_422(client, shop):
    uid, pid = shop.user(), shop.product(stock=3)
    response = order(client, uid, [{"product_id": pid, "quantity": 1}, {"product_id": 777, "quantity": 1}])
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_product"
    assert shop.stock(pid) == 3 and shop.orders_stored() == 0


def test_insufficient_stock_is_409(client, shop):
    uid, pid = shop.user(), shop.product(stock=1)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}])
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"] == {"items[0].quantity": f"only 1 of product {pid} in stock"}
    assert shop.stock(pid) == 1 and shop.orders_stored() == 0


def test_idempotency_key_replays_without_reserving_twice(client, shop):
    uid, pid = shop.user(), shop.product(stock=5)
    items = [{"product_id": pid, "quantity": 2}]
    first = order(client, uid, items, **{"Idempotency-Key": "k-1"})
    again = order(client, uid, items, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert shop.stock(pid) == 3 and shop.orders_stored() == 1


def test_idempotency_key_with_another_body_is_422(client, shop):
    uid, pid = shop.user(), shop.product(stock=5)
    order(client, uid, [{"product_id": pid, "quantity": 1}], **{"Idempotency-Key": "k-2"})
    response = order(client, uid, [{"product_id": pid, "quantity": 2}], **{"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert shop.stock(pid) == 4


def test_failed_request_frees_its_idempotency_key(client, shop):
    uid, pid = shop.user(), shop.product(stock=1)
    assert order(client, uid, [{"product_id": pid, "quantity": 2}], **{"Idempotency-Key": "k-3"}).status_code == 409
    assert shop.orders_stored() == 0


def test_concurrent_retries_with_one_key_make_one_order(app, shop):
    import requests
    uid, pid = shop.user(), shop.product(stock=50)
    statuses = []
    with serve(app) as base:
        def attempt():
            r = requests.post(f"{base}/api/orders", timeout=30, headers={"Idempotency-Key": "race"},
                              json={"user_id": uid, "items": [{"product_id": pid, "quantity": 1}]})
            statuses.append(r.status_code)
        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert shop.stock(pid) == 49 and shop.orders_stored() == 1


def test_products_down_is_fast_503_naming_it(make_orders, users_app, closed_port_url):
    import time

    with serve(users_app) as users_url:
        app = make_orders(users_url, closed_port_url)
        uid = users_app.test_client().post("/api/users", json={"name": "B", "email": "b@example.com"}).get_json()["id"]
        started = time.monotonic()
        response = app.test_client().post("/api/orders", json={"user_id": uid, "items": [{"product_id": 1, "quantity": 1}]})
        assert time.monotonic() - started < 5
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert error["fields"]["upstream"] == "products"
    assert "products" in error["message"]


def test_users_down_is_503_naming_it(make_orders, products_app, closed_port_url):
    with serve(products_app) as products_url:
        app = make_orders(closed_port_url, products_url)
        response = app.test_client().post("/api/orders", json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]})
    assert response.status_code == 503
    assert response.get_json()["error"]["fields"]["upstream"] == "users"


def test_mesh_denial_is_reported_as_such(make_orders, users_app):
    """Envoy's RBAC filter answers a plain-text 403; orders must say the mesh denied the call."""
    from flask import Flask

    rbac = Flask("rbac")
    rbac.add_url_rule("/<path:p>", "deny", lambda p: ("RBAC: access denied", 403, {"Content-Type": "text/plain"}),
                      methods=["GET", "PUT", "DELETE"])
    with serve(users_app) as users_url, serve(rbac) as denied_url:
        app = make_orders(users_url, denied_url)
        uid = users_app.test_client().post("/api/users", json={"name": "B", "email": "b@example.com"}).get_json()["id"]
        response = app.test_client().post("/api/orders", json={"user_id": uid, "items": [{"product_id": 1, "quantity": 1}]})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_denied"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"items": [{"product_id": 1, "quantity": 1}]}, "user_id"),
        ({"user_id": "1", "items": [{"product_id": 1, "quantity": 1}]}, "user_id"),
        ({"user_id": 0, "items": [{"product_id": 1, "quantity": 1}]}, "user_id"),
        ({"user_id": 1}, "items"),
        ({"user_id": 1, "items": []}, "items"),
        ({"user_id": 1, "items": {"product_id": 1}}, "items"),
        ({"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]}, "items[0].quantity"),
        ({"user_id": 1, "items": [{"product_id": 1, "quantity": -1}]}, "items[0].quantity"),
        ({"user_id": 1, "items": [{"product_id": 1, "quantity": 2.5}]}, "items[0].quantity"),
        ({"user_id": 1, "items": [{"product_id": 1, "quantity": "2"}]}, "items[0].quantity"),
        ({"user_id": 1, "items": [{"product_id": None, "quantity": 1}]}, "items[0].product_id"),
    ],
)
def test_invalid_order_is_400_and_stores_nothing(client, shop, body, field):
    response = client.post("/api/orders", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    assert shop.orders_stored() == 0


def test_unknown_order_is_404(client):
    assert client.get("/api/orders/5").status_code == 404


def test_missing_upstream_setting_stops_the_service(monkeypatch, tmp_path):
    monkeypatch.delenv("USERS_URL", raising=False)
    with pytest.raises(MissingSetting, match="USERS_URL"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/o.db",
                    "PRODUCTS_URL": "http://127.0.0.1:1"})


def test_large_order_total_is_exact(client, shop):
    uid, pid = shop.user(), shop.product(price="999999999.99", stock=2_000_000)
    response = order(client, uid, [{"product_id": pid, "quantity": 1_000_000}])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == "999999999990000.00"


@pytest.mark.parametrize("quantity", [1_000_001, 2**31, 2**63])
def test_absurd_quantity_is_400(client, shop, quantity):
    response = order(client, 1, [{"product_id": 1, "quantity": quantity}])
    assert response.status_code == 400
    assert "items[0].quantity" in response.get_json()["error"]["fields"]
