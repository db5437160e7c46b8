"""orders runs against the real users and products apps, each served on a loopback port."""

import socket

import pytest

import products
import users
from orders import create_app
from orders.models import IdempotencyKey, Order
from products.models import Product, Reservation
from shopcommon import db
from shoptesting import BACKENDS, dispose, make_app, serve


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def users_app(backend, tmp_path):
    app = make_app(users.create_app, backend, tmp_path, "users")
    yield app
    dispose(app)


@pytest.fixture
def products_app(backend, tmp_path):
    app = make_app(products.create_app, backend, tmp_path, "products")
    yield app
    dispose(app)


@pytest.fixture
def upstreams(users_app, products_app):
    with serve(users_app) as users_url, serve(products_app) as products_url:
        yield {"USERS_URL": users_url, "PRODUCTS_URL": products_url}


@pytest.fixture
def app(backend, tmp_path, upstreams):
    app = make_app(create_app, backend, tmp_path, "orders", **upstreams)
    yield app
    dispose(app)


@pytest.fixture
def make_orders(backend, tmp_path):
    """An orders app wired to the given upstream URLs (for when one of them is broken)."""
    made = []

    def make(users_url: str, products_url: str):
        app = make_app(create_app, backend, tmp_path, "orders", USERS_URL=users_url, PRODUCTS_URL=products_url)
        made.append(app)
        return app
    yield make
    for app in made:
        dispose(app)


@pytest.fixture
def closed_port_url():
    """A loopback URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Shop:
    """Creates users and products through their APIs and reads what each database holds."""

    def __init__(self, orders_app, users_app, products_app):
        self.orders_app = orders_app
        self.products_app = products_app
        self.users = users_app.test_client()
        self.products = products_app.test_client()

    def user(self, email="buyer@example.com") -> int:
        response = self.users.post("/api/users", json={"name": "Buyer", "email": email})
        assert response.status_code == 201
        return response.get_json()["id"]

    def product(self, price="10.00", stock=10) -> int:
        response = self.products.post("/products", json={"name": "Thing", "price": price, "stock": stock})
        assert response.status_code == 201
        return response.get_json()["id"]

    def stock(self, product_id: int) -> int:
        return self.products.get(f"/products/{product_id}").get_json()["stock"]

    def restock(self, product_id: int, stock: int) -> None:
        with self.products_app.app_context():
            db.session.get(Product, product_id).stock = stock
            db.session.commit()

    def orders_stored(self) -> int:
        with self.orders_app.app_context():
            return db.session.query(Order).count()

    def keys_stored(self) -> dict[str, int | None]:
        """Each stored Idempotency-Key and the order it is bound to (None while in flight)."""
        with self.orders_app.app_context():
            return {row.key: row.order_id for row in db.session.query(IdempotencyKey)}

    def reservations(self) -> list[str]:
        """The status of every reservation products holds or has released."""
        with self.products_app.app_context():
            return [r.status for r in db.session.query(Reservation)]


@pytest.fixture
def shop(app, users_app, products_app):
    return Shop(app, users_app, products_app)
