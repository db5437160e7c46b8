"""The users and products clients against the real apps on loopback ports: paths, statuses, codes, money."""

import pytest
from flask import Flask

from shopcommon import APIError, db
from shopcommon.clients import Page, PricedLine, Product, ProductsClient, User, UsersClient
from shopcommon.contract import OrderLine
from shopcommon.errors import INSUFFICIENT_STOCK, UNKNOWN_PRODUCT, UPSTREAM_DENIED
from shopcommon.upstream import Upstream, UpstreamUnavailable
from shoptesting import serve


@pytest.fixture
def users(upstreams) -> UsersClient:
    return UsersClient(Upstream("users", upstreams["USERS_URL"]))


@pytest.fixture
def products(upstreams) -> ProductsClient:
    return ProductsClient(Upstream("products", upstreams["PRODUCTS_URL"]))


def test_users_create_get_exists_and_page(users):
    ada = users.create("Ada", "Ada@Example.com")
    assert ada == User(id=ada.id, name="Ada", email="ada@example.com")
    grace = users.create("Grace", "grace@example.com")
    assert users.get(ada.id) == ada
    assert users.get(grace.id + 1) is None
    assert users.exists(ada.id) and not users.exists(grace.id + 1)
    assert users.page(limit=1, newest_first=True) == Page([grace], total=2)
    assert users.page(limit=1, offset=1) == Page([grace], total=2)


def test_a_read_the_service_refuses_is_the_service_unavailable(users):
    """A read is built by the client, not the caller: a 4xx to it is no answer the caller can fix."""
    with pytest.raises(UpstreamUnavailable) as refused:
        users.page(limit=1000)  # users allows at most 200
    assert (refused.value.status, refused.value.code) == (503, "upstream_unavailable")
    assert refused.value.fields == {"upstream": "users", "detail": "invalid_query"}


def test_users_refusals_keep_their_code_and_fields(users):
    with pytest.raises(APIError) as bad:
        users.create("", "nope")
    assert (bad.value.status, bad.value.code) == (400, "validation_failed")
    assert set(bad.value.fields) == {"name", "email"}
    users.create("Ada", "ada@example.com")
    with pytest.raises(APIError) as duplicate:
        users.create("Ada", "ada@example.com")
    assert (duplicate.value.status, duplicate.value.code) == (409, "duplicate_email")
    assert duplicate.value.fields == {"email": "is already registered"}


def test_products_money_is_cents_inside(products, shop):
    made = products.create("Lamp", 1999, 4)
    assert made == Product.model_validate({"id": made.id, "name": "Lamp", "price": "19.99", "stock": 4})
    assert shop.products.get(f"/products/{made.id}").get_json()["price"] == "19.99"  # the wire keeps decimals
    assert products.get(made.id) == made
    assert products.page() == Page([made], total=1)


def test_reserve_prices_each_line_and_release_gives_it_back(products, shop):
    a, b = shop.product(price="2.50", stock=5), shop.product(price="0.99", stock=3)
    lines = [OrderLine(product_id=a, quantity=2), OrderLine(product_id=b, quantity=3)]
    reservation = products.reserve("r-1", lines)
    assert reservation.id == "r-1"
    assert set(reservation.lines) == {PricedLine.model_validate({"product_id": a, "quantity": 2, "unit_price": "2.50"}),
                                      PricedLine.model_validate({"product_id": b, "quantity": 3, "unit_price": "0.99"})}
    assert products.reserve("r-1", lines) == reservation  # a repeat holds no more
    assert shop.stock(a) == 3 and shop.stock(b) == 0
    products.release("r-1")
    products.release("r-1")
    assert shop.stock(a) == 5 and shop.stock(b) == 3 and shop.reservations() == ["released"]


def test_a_sale_comes_back_confirmed_and_its_release_is_refused(products, shop):
    from shopcommon.clients import ReservationSold

    pid = shop.product(price="4.00", stock=5)
    sold = products.reserve("s-1", [OrderLine(product_id=pid, quantity=2)], sell=True)
    assert sold.status == "confirmed" and sold.total_cents == 800
    assert products.reservation("s-1") == sold
    with pytest.raises(ReservationSold):
        products.release("s-1")
    assert products.reserve("s-1", [OrderLine(product_id=pid, quantity=2)], sell=True) == sold  # a repeat
    assert shop.stock(pid) == 3
    assert products.reservation("never") is None  # nothing was made
    products.release("never")
    assert products.reservation("never") is None  # released: holds nothing


@pytest.mark.parametrize("wanted, status, code, field", [
    (2, 409, INSUFFICIENT_STOCK, "items[0].quantity"),
    (None, 422, UNKNOWN_PRODUCT, "items[0].product_id"),
])
def test_reserve_refusals_pass_on_with_the_line_named(products, shop, wanted, status, code, field):
    pid = shop.product(stock=1)
    line = OrderLine(product_id=pid, quantity=wanted) if wanted else OrderLine(product_id=pid + 100, quantity=1)
    with pytest.raises(APIError) as refused:
        products.reserve("r-2", [line])
    assert not isinstance(refused.value, UpstreamUnavailable)  # definite: products holds nothing
    assert (refused.value.status, refused.value.code) == (status, code)
    assert list(refused.value.fields) == [field]
    assert shop.stock(pid) == 1 and shop.reservations() == []


def test_any_other_reserve_answer_leaves_the_outcome_unknown(products, shop):
    """A body products refuses, or an id it already released, is orders' fault, not the buyer's."""
    pid = shop.product(stock=5)
    with pytest.raises(UpstreamUnavailable) as bad_body:
        products.reserve("r-3", [OrderLine.model_construct(product_id=pid, quantity=0)])
    assert "HTTP 400" in bad_body.value.message and bad_body.value.fields["upstream"] == "products"
    products.release("r-4")
    with pytest.raises(UpstreamUnavailable, match="HTTP 409"):
        products.reserve("r-4", [OrderLine(product_id=pid, quantity=1)])
    assert shop.stock(pid) == 5


def test_a_crashing_service_is_a_503_naming_it(users, users_app):
    with users_app.app_context():
        db.metadata.drop_all(db.engine, tables=users_app.extensions["shop.tables"])
    with pytest.raises(UpstreamUnavailable) as failed:
        users.exists(1)
    assert failed.value.status == 503
    assert failed.value.fields["upstream"] == "users"
    assert failed.value.message.startswith("users failed (HTTP 500)")


def test_an_unreachable_service_is_unavailable(closed_port_url):
    with pytest.raises(UpstreamUnavailable) as down:
        ProductsClient(Upstream("products", closed_port_url)).reserve("r-5", [OrderLine(product_id=1, quantity=1)])
    assert down.value.fields["upstream"] == "products"


def test_the_mesh_denying_a_call_is_not_an_unknown_outcome():
    rbac = Flask("rbac")
    rbac.add_url_rule("/<path:p>", "deny", lambda p: ("RBAC: access denied", 403, {"Content-Type": "text/plain"}),
                      methods=["PUT"])
    with serve(rbac) as denied_url, pytest.raises(APIError) as denied:
        ProductsClient(Upstream("products", denied_url)).reserve("r-6", [OrderLine(product_id=1, quantity=1)])
    assert not isinstance(denied.value, UpstreamUnavailable)
    assert (denied.value.status, denied.value.code) == (503, UPSTREAM_DENIED)
    assert denied.value.fields["upstream"] == "products"


@pytest.mark.parametrize("answer", [
    {"id": 1, "name": "Lamp", "cost": "19.99", "stock": 4},  # a field renamed
    {"id": 1, "name": "Lamp", "price": 19.99, "stock": 4},  # money as a float
    {"id": 1, "name": "Lamp", "price": "19.99"},  # a field gone
])
def test_an_answer_outside_the_contract_is_the_service_failing(answer):
    """The client reads products' answer with the model products documents: a drifted answer is caught
    at the boundary, naming the service, never half-read into an order."""
    drifted = Flask("drifted")
    drifted.add_url_rule("/products/<int:pid>", "get", lambda pid: answer)
    with serve(drifted) as url, pytest.raises(UpstreamUnavailable) as failed:
        ProductsClient(Upstream("products", url)).get(1)
    assert failed.value.fields["upstream"] == "products"
    assert "products answered outside its contract" in failed.value.message


def test_an_answer_cut_off_half_way_is_an_unknown_outcome():
    """A process killed while it sends its answer: the header promised a body that never comes."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def half_answer():
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nContent-Length: 137\r\n\r\n")
        connection.close()
    threading.Thread(target=half_answer, daemon=True).start()
    try:
        with pytest.raises(UpstreamUnavailable) as cut:
            ProductsClient(Upstream("products", f"http://127.0.0.1:{server.getsockname()[1]}")).reserve(
                "r-7", [OrderLine(product_id=1, quantity=1)])
        assert cut.value.fields["upstream"] == "products" and "broke off" in cut.value.message
    finally:
        server.close()
