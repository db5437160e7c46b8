"""The frontend against the real users, products and orders apps, each on a loopback port."""

import re
import socket

import pytest

import orders
import products
import users
from frontend import UPSTREAMS, create_app
from shoptesting import BACKENDS, dispose, make_app, serve


@pytest.fixture(params=BACKENDS[:1])  # the frontend has no database; one back end behind it is enough
def services(request, tmp_path):
    made = []

    def make(factory, name, **settings):
        app = make_app(factory, request.param, tmp_path, name, **settings)
        made.append(app)
        return app

    users_app, products_app = make(users.create_app, "users"), make(products.create_app, "products")
    with serve(users_app) as users_url, serve(products_app) as products_url:
        orders_app = make(orders.create_app, "orders", USERS_URL=users_url, PRODUCTS_URL=products_url)
        with serve(orders_app) as orders_url:
            yield {"USERS_URL": users_url, "PRODUCTS_URL": products_url, "ORDERS_URL": orders_url}
    for app in made:
        dispose(app)


@pytest.fixture(autouse=True)
def secret_key_file(monkeypatch, tmp_path):
    """Every frontend a test makes keeps its key in the test's own folder, made there as on a first start."""
    path = tmp_path / "frontend" / "secret_key"
    monkeypatch.setenv("SECRET_KEY_FILE", str(path))
    return path


def read_csrf_token(client, page: str) -> str:
    """The CSRF token in the form ``page`` renders, read as a browser's form would carry it."""
    html = client.get(page).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def csrf_token():
    return read_csrf_token


@pytest.fixture
def submit():
    """Send a form as a browser does: open its page (``path`` itself unless told), then post with its token."""
    def send(client, path: str, data: dict, page: str | None = None):
        return client.post(path, data={**data, "csrf_token": read_csrf_token(client, page or path)})
    return send


@pytest.fixture
def client(services):
    return create_app({"TESTING": True, **services}).test_client()


@pytest.fixture
def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def offline(closed_port_url):
    """Settings for a frontend with nothing behind it: its upstreams and Consul are a closed port."""
    return {"TESTING": True, "CONSUL_HTTP_ADDR": closed_port_url,
            **{f"{name.upper()}_URL": closed_port_url for name in UPSTREAMS}}


@pytest.fixture
def offline_app(offline):
    return create_app({**offline, "ADMIN_TOKEN": "s3cret"})


@pytest.fixture
def read_only_app(offline):
    return create_app({**offline, "ADMIN_TOKEN": None})


@pytest.fixture
def operator_client(offline_app, submit):
    """A browser signed in as the operator Ann."""
    c = offline_app.test_client()
    assert submit(c, "/login", {"name": "Ann", "token": "s3cret"}).status_code == 303
    return c
