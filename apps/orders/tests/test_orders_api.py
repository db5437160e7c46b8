import threading
import time

import pytest
import requests

from orders import create_app
from orders.models import OrderItem
from shopcommon import db
from shopcommon.config import MissingSetting
from shoptesting import concurrently, serve

KEY = "Idempotency-Key"


class LateAnswers:
    """Wraps a real app so that it answers each PUT ``delay`` seconds after acting on it.

    What a caller sees when the network loses an answer: the work is done, the answer never comes.
    ``acted`` is set once the app has acted on a PUT.
    """

    def __init__(self, app, delay: float):
        self.wsgi_app, self.delay = app.wsgi_app, delay
        self.acted = threading.Event()
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        result = self.wsgi_app(environ, start_response)
        if environ["REQUEST_METHOD"] == "PUT":
            self.acted.set()
            time.sleep(self.delay)
        return result


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
    # a user_id that is not a whole number (empty included) is refused, never ignored
    for bad in ("", "x", "2147483648", "%C2%B2"):
        refused = client.get(f"/api/orders?user_id={bad}")
        assert refused.status_code == 400 and refused.get_json()["error"]["fields"] == {
            "user_id": "must be a whole number"}, (bad, refused.get_json())


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
    response = order(client, 999, [{"product_id": pid, "quantity": 1}], **{KEY: "k-user"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_user"
    assert response.get_json()["error"]["fields"] == {"user_id": "no such user"}
    assert shop.stock(pid) == 3 and shop.orders_stored() == 0 and shop.keys_stored() == {}
    assert shop.reservations() == []  # products was never asked


def test_unknown_product_is_422(client, shop):
    uid, pid = shop.user(), shop.product(stock=3)
    response = order(client, uid, [{"product_id": pid, "quantity": 1}, {"product_id": 777, "quantity": 1}],
                     **{KEY: "k-product"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_product"
    assert response.get_json()["error"]["fields"] == {"items[1].product_id": "product 777 does not exist"}
    assert shop.stock(pid) == 3 and shop.orders_stored() == 0 and shop.keys_stored() == {}
    assert shop.reservations() == []  # a definite refusal holds nothing, so nothing is released


def test_insufficient_stock_is_409(client, shop):
    uid, pid = shop.user(), shop.product(stock=1)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "insufficient_stock"
    assert response.get_json()["error"]["fields"] == {"items[0].quantity": f"only 1 of product {pid} in stock"}
    assert shop.stock(pid) == 1 and shop.orders_stored() == 0 and shop.reservations() == []


def test_a_dropped_orders_id_is_never_given_to_another(client, shop):
    """A refused order was written pending, then dropped: the next order gets a new id, so logs and
    traces that named the refused one never point at it."""
    uid, pid = shop.user(), shop.product(stock=1)
    first = order(client, uid, [{"product_id": pid, "quantity": 1}]).get_json()["id"]
    assert order(client, uid, [{"product_id": pid, "quantity": 1}]).status_code == 409  # pending, dropped
    shop.restock(pid, 1)
    assert order(client, uid, [{"product_id": pid, "quantity": 1}]).get_json()["id"] == first + 2


def test_idempotency_key_replays_without_reserving_twice(client, shop):
    uid, pid = shop.user(), shop.product(stock=5)
    items = [{"product_id": pid, "quantity": 2}]
    first = order(client, uid, items, **{KEY: "k-1"})
    again = order(client, uid, items, **{KEY: "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert shop.stock(pid) == 3 and shop.orders_stored() == 1
    assert shop.keys_stored() == {"k-1": first.get_json()["id"]}


def test_idempotency_key_with_another_body_is_422(client, shop):
    uid, pid = shop.user(), shop.product(stock=5)
    order(client, uid, [{"product_id": pid, "quantity": 1}], **{KEY: "k-2"})
    response = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-2"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert shop.stock(pid) == 4 and shop.orders_stored() == 1


def test_failed_request_frees_its_idempotency_key(client, shop):
    uid, pid = shop.user(), shop.product(stock=1)
    items = [{"product_id": pid, "quantity": 2}]
    assert order(client, uid, items, **{KEY: "k-3"}).status_code == 409
    assert shop.orders_stored() == 0 and shop.keys_stored() == {}
    shop.restock(pid, 5)
    retry = order(client, uid, items, **{KEY: "k-3"})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert shop.stock(pid) == 3 and shop.keys_stored() == {"k-3": retry.get_json()["id"]}


def test_retry_while_the_first_is_in_flight_is_409(app, shop, products_app):
    uid, pid = shop.user(), shop.product(stock=5)
    late = LateAnswers(products_app, delay=1.0)
    body = {"user_id": uid, "items": [{"product_id": pid, "quantity": 1}]}
    with serve(app) as base:
        def post():
            return requests.post(f"{base}/api/orders", json=body, headers={KEY: "slow"}, timeout=30)
        first = []
        thread = threading.Thread(target=lambda: first.append(post()))
        thread.start()
        assert late.acted.wait(timeout=10)
        retry = post()
        assert shop.keys_stored() == {"slow": 1}  # claimed, bound to its order, still pending
        thread.join(timeout=30)
        replay = post()
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "request_in_progress"
    assert first[0].status_code == 201
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first[0].json()
    assert shop.stock(pid) == 4 and shop.keys_stored() == {"slow": first[0].json()["id"]}


def test_a_sale_whose_answer_is_lost_is_found_and_the_order_placed(monkeypatch, make_orders, upstreams, shop,
                                                                  products_app):
    """A timeout leaves it unknown whether products sold: orders asks (its release is refused, the
    stock is sold), and places the order at the prices sold."""
    uid, pid = shop.user(), shop.product(price="2.50", stock=5)
    monkeypatch.setenv("UPSTREAM_TIMEOUT", "0.3")
    app = make_orders(upstreams["USERS_URL"], upstreams["PRODUCTS_URL"])
    late = LateAnswers(products_app, delay=1.5)
    response = order(app.test_client(), uid, [{"product_id": pid, "quantity": 2}], **{KEY: "lost"})
    assert late.acted.is_set()
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == "5.00" and response.get_json()["status"] == "confirmed"
    assert shop.stock(pid) == 3 and shop.reservations() == ["confirmed"]
    assert shop.keys_stored() == {"lost": response.get_json()["id"]}


def test_a_sale_that_failed_without_an_answer_leaves_nothing(make_orders, upstreams, shop, products_app):
    """products fails the sale (a 500, nothing done): orders releases, which leaves a marker that
    makes any late sale fail, and drops the order."""
    uid, pid = shop.user(), shop.product(stock=5)
    inner = products_app.wsgi_app

    def failing(environ, start_response):
        if environ["REQUEST_METHOD"] == "PUT":
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "application/json")])
            return [b'{"error": {"code": "internal_error", "message": "test", "fields": {}}}']
        return inner(environ, start_response)
    products_app.wsgi_app = failing
    app = make_orders(upstreams["USERS_URL"], upstreams["PRODUCTS_URL"])
    response = order(app.test_client(), uid, [{"product_id": pid, "quantity": 2}], **{KEY: "failed"})
    assert response.status_code == 503 and response.get_json()["error"]["fields"]["upstream"] == "products"
    assert shop.stock(pid) == 5 and shop.reservations() == ["released"]
    assert shop.orders_stored() == 0 and shop.keys_stored() == {}


def test_an_order_whose_confirmation_cannot_be_saved_is_confirmed_by_recovery(app, client, shop):
    """The orders database fails after the sale: the order stays pending (unseen, its key in
    progress) until recover_pending confirms it at the prices sold."""
    from orders.api import recover_pending

    uid, pid = shop.user(), shop.product(price="3.00", stock=5)
    with app.app_context():
        OrderItem.__table__.drop(db.engine)  # the orders database fails after the sale
    response = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "unsaved"})
    assert response.status_code == 500
    assert shop.stock(pid) == 3 and shop.reservations() == ["confirmed"]
    assert client.get("/api/orders").get_json()["total"] == 0
    assert order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "unsaved"}).status_code == 409
    app.config["PENDING_GRACE_SECONDS"] = 0
    with app.app_context():
        OrderItem.__table__.create(db.engine)  # the database works again
        assert recover_pending() == 1
    listed = client.get("/api/orders").get_json()
    assert listed["total"] == 1 and listed["items"][0]["total"] == "6.00"
    assert listed["items"][0]["items"] == [{"product_id": pid, "quantity": 2, "unit_price": "3.00"}]
    assert shop.stock(pid) == 3


def test_concurrent_retries_with_one_key_make_one_order(app, shop):
    uid, pid = shop.user(), shop.product(stock=50)
    with serve(app) as base:
        def attempt(_):
            return requests.post(f"{base}/api/orders", timeout=30, headers={KEY: "race"},
                                 json={"user_id": uid, "items": [{"product_id": pid, "quantity": 1}]}).status_code
        statuses = concurrently(attempt, 8)
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert shop.stock(pid) == 49 and shop.orders_stored() == 1 and len(shop.keys_stored()) == 1


def test_products_down_is_fast_503_naming_it(make_orders, upstreams, shop, closed_port_url):
    app = make_orders(upstreams["USERS_URL"], closed_port_url)
    uid = shop.user()
    started = time.monotonic()
    response = order(app.test_client(), uid, [{"product_id": 1, "quantity": 1}], **{KEY: "k-down"})
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert error["fields"]["upstream"] == "products"
    assert "products" in error["message"]
    # whether products sold cannot be known: the order waits, pending and unseen, for recover_pending
    assert app.test_client().get("/api/orders").get_json()["total"] == 0
    assert list(shop.keys_stored()) == ["k-down"] and shop.orders_stored() == 1


def test_request_id_reaches_users_and_products(client, shop, users_app, products_app):
    """Every call orders makes carries its own request's id, so the three services' logs line up."""
    uid, pid = shop.user(), shop.product()
    seen = []
    for app in (users_app, products_app):
        def recording(environ, start_response, inner=app.wsgi_app):
            seen.append((environ["REQUEST_METHOD"], environ.get("HTTP_X_REQUEST_ID")))
            return inner(environ, start_response)
        app.wsgi_app = recording
    response = order(client, uid, [{"product_id": pid, "quantity": 1}], **{"X-Request-Id": "rid-42"})
    assert response.status_code == 201
    assert seen == [("GET", "rid-42"), ("PUT", "rid-42")]  # the user, the sale


def test_users_down_is_503_naming_it(make_orders, products_app, closed_port_url):
    with serve(products_app) as products_url:
        app = make_orders(closed_port_url, products_url)
        response = app.test_client().post("/api/orders", json={"user_id": 1, "items": [{"product_id": 1, "quantity": 1}]})
    assert response.status_code == 503
    assert response.get_json()["error"]["fields"]["upstream"] == "users"


def test_mesh_denial_is_reported_as_such(make_orders, upstreams, shop):
    """Envoy's RBAC filter answers a plain-text 403; orders must say the mesh denied the call."""
    from flask import Flask, request

    calls = []
    rbac = Flask("rbac")

    @rbac.route("/<path:p>", methods=["GET", "PUT", "DELETE"])
    def deny(p):
        calls.append(request.method)
        return "RBAC: access denied", 403, {"Content-Type": "text/plain"}

    with serve(rbac) as denied_url:
        app = make_orders(upstreams["USERS_URL"], denied_url)
        response = order(app.test_client(), shop.user(), [{"product_id": 1, "quantity": 1}], **{KEY: "k-denied"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream_denied"
    assert calls == ["PUT"]  # the denied call never reached products: nothing to release
    assert shop.orders_stored() == 0 and shop.keys_stored() == {}


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


# --- pending until products has sold: nothing lost when a process dies in between -----------------

def test_a_sold_reservation_never_expires(app, client, shop, products_app):
    from products.reservations import expire_due

    uid, pid = shop.user(), shop.product(stock=5)
    products_app.config["RESERVATION_HOLD_SECONDS"] = 0  # a held reservation would expire at once
    response = order(client, uid, [{"product_id": pid, "quantity": 2}])
    assert response.status_code == 201 and response.get_json()["status"] == "confirmed"
    with products_app.app_context():
        assert expire_due() == 0
    assert shop.stock(pid) == 3 and shop.reservations() == ["confirmed"]


@pytest.fixture
def products_unreachable(monkeypatch):
    """``cut(sold)``: orders loses products during the sale, after products sold (``sold``) or before
    the call reached it, and cannot ask it anything after; ``back()``: products answers again."""
    from shopcommon.clients import ProductsClient
    from shopcommon.upstream import UpstreamUnavailable

    real_reserve, real_release = ProductsClient.reserve, ProductsClient.release

    def lost(*_args, **_kwargs):
        raise UpstreamUnavailable("products", "products did not answer (test)")

    def cut(sold: bool):
        def reserve(self, *args, **kwargs):
            if sold:
                real_reserve(self, *args, **kwargs)
            lost()
        monkeypatch.setattr(ProductsClient, "reserve", reserve)
        monkeypatch.setattr(ProductsClient, "release", lost)

    def back():
        monkeypatch.setattr(ProductsClient, "reserve", real_reserve)
        monkeypatch.setattr(ProductsClient, "release", real_release)
    return cut, back


def test_a_pending_order_is_invisible_until_recovery_confirms_it(app, client, shop, products_unreachable):
    from orders.api import recover_pending

    cut, back = products_unreachable
    uid, pid = shop.user(), shop.product(price="1.25", stock=5)
    cut(sold=True)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-pending"})
    assert response.status_code == 503
    assert client.get("/api/orders").get_json()["total"] == 0 and shop.stock(pid) == 3
    retry = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-pending"})
    assert retry.status_code == 409 and retry.get_json()["error"]["code"] == "request_in_progress"
    back()
    app.config["PENDING_GRACE_SECONDS"] = 0
    with app.app_context():
        assert recover_pending() == 1
        assert recover_pending() == 0
    listed = client.get("/api/orders").get_json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "confirmed"
    assert listed["items"][0]["total"] == "2.50"
    replay = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-pending"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == listed["items"][0]
    assert shop.stock(pid) == 3 and shop.reservations() == ["confirmed"]


def test_recovery_drops_a_pending_order_whose_stock_was_never_sold(app, client, shop, products_unreachable):
    from orders.api import recover_pending

    cut, back = products_unreachable
    uid, pid = shop.user(), shop.product(stock=5)
    cut(sold=False)
    assert order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-unsold"}).status_code == 503
    back()
    app.config["PENDING_GRACE_SECONDS"] = 0
    with app.app_context():
        assert recover_pending() == 1
    assert shop.orders_stored() == 0 and shop.keys_stored() == {}
    # released before it was ever made: a sale still on its way would now fail
    assert shop.stock(pid) == 5 and shop.reservations() == ["released"]
    # the key is free again: a retry places the order afresh
    assert order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "k-unsold"}).status_code == 201
    assert shop.stock(pid) == 3


def test_recovery_leaves_a_young_pending_order_to_its_request(app, shop, products_unreachable, client):
    from orders.api import recover_pending

    cut, back = products_unreachable
    uid, pid = shop.user(), shop.product(stock=5)
    cut(sold=True)
    order(client, uid, [{"product_id": pid, "quantity": 1}])
    back()
    with app.app_context():
        assert recover_pending() == 0  # PENDING_GRACE_SECONDS (10 s) has not passed
    assert shop.orders_stored() == 1 and client.get("/api/orders").get_json()["total"] == 0


def test_an_order_waiting_for_the_write_lock_is_stamped_when_written_and_left_to_its_request(
        app, client, shop, backend, monkeypatch):
    """SQLite: the pending order's write waits 2 s for another writer. Its created_at is when it was
    written, not when its request began to wait, so a recovery round right after (grace 1 s) leaves
    it to its request, which places it."""
    if backend != "sqlite":
        pytest.skip("the writers' lock is SQLite's (shopcommon.db.tune_sqlite)")
    from sqlalchemy import text

    from orders import api
    from shopcommon.clients import ProductsClient

    uid, pid = shop.user(), shop.product(stock=5)
    app.config["PENDING_GRACE_SECONDS"] = 1
    held, holder = threading.Event(), None

    def hold():
        with app.app_context():
            db.session.execute(text("UPDATE orders SET status = status"))  # a write: the lock
            held.set()
            time.sleep(2)
            db.session.commit()

    checked = api._check_user

    def check_then_lock(user_id):  # the lock taken once the user check is done: the wait is the write's
        nonlocal holder
        checked(user_id)
        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(5)
    monkeypatch.setattr(api, "_check_user", check_then_lock)
    sell = ProductsClient.reserve

    settled = []

    def recovery_first(self, reservation_id, lines, **kwargs):
        with app.app_context():  # another worker's round, between the pending write and the sale
            settled.append(api.recover_pending())
        return sell(self, reservation_id, lines, **kwargs)
    monkeypatch.setattr(ProductsClient, "reserve", recovery_first)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}])
    holder.join(timeout=10)
    assert settled == [0], "the recovery round settled the order its request was placing"
    assert response.status_code == 201, response.get_json()
    assert shop.stock(pid) == 3
    assert client.get(f"/api/orders/{response.get_json()['id']}").get_json() == response.get_json()


def test_an_order_confirmed_meanwhile_by_recovery_answers_as_it_is_stored(app, client, shop, monkeypatch):
    """The sale done, another worker's recovery confirms the order before the request does: the
    request's confirmation changes nothing and its answer is the stored order."""
    from orders import api
    from orders.models import Order
    from shopcommon.clients import ProductsClient

    uid, pid = shop.user(), shop.product(price="3.00", stock=5)
    sell = ProductsClient.reserve

    def sold_then_settled(self, reservation_id, lines, **kwargs):
        answer = sell(self, reservation_id, lines, **kwargs)
        with app.app_context():
            order_id = db.session.scalar(db.select(Order.id).where(Order.reservation_id == reservation_id))
            assert api._settle(order_id, reservation_id)["status"] == "confirmed"
        return answer
    monkeypatch.setattr(ProductsClient, "reserve", sold_then_settled)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}])
    assert response.status_code == 201, response.get_json()
    placed = response.get_json()
    assert client.get(f"/api/orders/{placed['id']}").get_json() == placed
    assert placed["items"] == [{"product_id": pid, "quantity": 2, "unit_price": "3.00"}] and shop.stock(pid) == 3
    assert shop.orders_stored() == 1


def test_an_order_whose_key_is_gone_before_it_is_written_is_not_stored(app, client, shop, monkeypatch):
    """The key's row deleted by hand between the claim and the pending order: a 500, and nothing
    stored or taken (the order and its key are written in one transaction)."""
    from sqlalchemy import delete

    from orders import api
    from orders.models import IdempotencyKey

    uid, pid = shop.user(), shop.product(stock=5)
    checked = api._check_user

    def check_then_forget(user_id):
        checked(user_id)
        with app.app_context():
            db.session.execute(delete(IdempotencyKey))
            db.session.commit()
    monkeypatch.setattr(api, "_check_user", check_then_forget)
    response = order(client, uid, [{"product_id": pid, "quantity": 2}], **{KEY: "gone"})
    assert response.status_code == 500
    assert shop.orders_stored() == 0 and shop.stock(pid) == 5
