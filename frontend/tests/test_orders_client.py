"""The orders client against the real orders app (on the real users and products) on loopback ports."""

import pytest

import orders
from shopcommon import APIError
from shopcommon.clients import Order, OrdersClient, Page, ProductsClient, UsersClient
from shopcommon.contract import OrderLine
from shopcommon.errors import INSUFFICIENT_STOCK, UNKNOWN_USER, UPSTREAM_UNAVAILABLE
from shopcommon.upstream import Upstream, UpstreamUnavailable
from shoptesting import dispose, make_app, serve


@pytest.fixture
def shop(services):
    """The three clients, each on its service's URL."""
    return (UsersClient(Upstream("users", services["USERS_URL"])),
            ProductsClient(Upstream("products", services["PRODUCTS_URL"])),
            OrdersClient(Upstream("orders", services["ORDERS_URL"])))


def test_create_get_and_page_orders(shop):
    users, products, orders = shop
    ada, bob = users.create("Ada", "ada@example.com"), users.create("Bob", "bob@example.com")
    lamp = products.create("Lamp", 1999, 5)
    first = orders.create(ada.id, [OrderLine(product_id=lamp.id, quantity=2)])
    assert first == Order.model_validate({"id": first.id, "user_id": ada.id, "status": "confirmed",
                                          "items": [{"product_id": lamp.id, "quantity": 2, "unit_price": "19.99"}],
                                          "total": "39.98", "created_at": first.created_at})
    second = orders.create(bob.id, [OrderLine(product_id=lamp.id, quantity=1)])
    assert orders.get(first.id) == first
    assert orders.get(second.id + 1) is None
    assert orders.page(newest_first=True) == Page([second, first], total=2)
    assert orders.page(user_id=ada.id) == Page([first], total=1)
    assert products.get(lamp.id).stock == 2


def test_a_retry_with_the_same_key_is_the_same_order(shop):
    users, products, orders = shop
    uid, pid = users.create("Ada", "ada@example.com").id, products.create("Lamp", 100, 5).id
    first = orders.create(uid, [OrderLine(product_id=pid, quantity=1)], idempotency_key="form-1")
    assert orders.create(uid, [OrderLine(product_id=pid, quantity=1)], idempotency_key="form-1") == first
    assert products.get(pid).stock == 4 and orders.page().total == 1


@pytest.mark.parametrize("case, status, code, field", [
    ("unknown user", 422, UNKNOWN_USER, "user_id"),
    ("short stock", 409, INSUFFICIENT_STOCK, "items[0].quantity"),
    ("bad quantity", 400, "validation_failed", "items[0].quantity"),
])
def test_refusals_keep_their_code_and_fields(shop, case, status, code, field):
    users, products, orders = shop
    uid, pid = users.create("Ada", "ada@example.com").id, products.create("Lamp", 100, 1).id
    user_id, quantity = {"unknown user": (uid + 1, 1), "short stock": (uid, 2), "bad quantity": (uid, 0)}[case]
    with pytest.raises(APIError) as refused:
        # unchecked, as a caller may send it: the service refuses it
        orders.create(user_id, [OrderLine.model_construct(product_id=pid, quantity=quantity)])
    assert (refused.value.status, refused.value.code) == (status, code)
    assert field in refused.value.fields
    assert products.get(pid).stock == 1 and orders.page().total == 0


@pytest.fixture
def orders_without_products(services, tmp_path, closed_port_url):
    """A real orders app whose products upstream answers nothing."""
    app = make_app(orders.create_app, "sqlite", tmp_path, "orders-alone",
                   USERS_URL=services["USERS_URL"], PRODUCTS_URL=closed_port_url)
    with serve(app) as url:
        yield OrdersClient(Upstream("orders", url))
    dispose(app)


def test_orders_reporting_its_upstream_down_names_that_upstream(shop, orders_without_products):
    uid = shop[0].create("Ada", "ada@example.com").id
    with pytest.raises(APIError) as down:
        orders_without_products.create(uid, [OrderLine(product_id=1, quantity=1)])
    assert (down.value.status, down.value.code) == (503, UPSTREAM_UNAVAILABLE)
    assert down.value.fields["upstream"] == "products"


def test_orders_unreachable_is_unavailable(closed_port_url):
    with pytest.raises(UpstreamUnavailable) as down:
        OrdersClient(Upstream("orders", closed_port_url)).page()
    assert down.value.fields["upstream"] == "orders"
