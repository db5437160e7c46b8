"""The frontend against the real users, products and orders apps, each on a loopback port, and against
the real throwaway Consul where Consul's answer is what a test is about."""

import json
import logging
import re
import socket
import uuid

import pytest

import orders
import products
import users
from frontend import UPSTREAMS, create_app, operators
from frontend.operators import Operator
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
def no_consul_token_file(monkeypatch):
    """A frontend a test makes has no token of its own unless the test gives it one."""
    monkeypatch.delenv("CONSUL_TOKEN_FILE", raising=False)


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
    return create_app(offline)


@pytest.fixture
def ann():
    """An operator made up for tests that never reach Consul: her token is nobody's."""
    return Operator("0a1b2c3d-made-up0-0000-000000000000", "Ann (ops)", "not-a-real-token")


@pytest.fixture
def sign_in_without_consul(ann):
    """Give a test client's browser a session signed in as Ann, as the sign-in form would leave it."""
    def sign_in(client) -> None:
        with client.application.app_context():
            entry = operators.remember(ann)
        with client.session_transaction() as session:
            session["operator"] = entry
    return sign_in


@pytest.fixture
def operator_client(offline_app, sign_in_without_consul):
    """A browser signed in as the made-up operator Ann; Consul (a closed port) was never asked."""
    c = offline_app.test_client()
    sign_in_without_consul(c)
    return c


# --- against the real throwaway Consul (apps/common/testsupport/realconsul.py) --------------------

READ_ONLY = ('peering = "read" service_prefix "" { policy = "read" intentions = "read" } '
             'node_prefix "" { policy = "read" }')


@pytest.fixture(scope="session")
def frontend_token_file(throwaway_consul, tmp_path_factory):
    """The frontend's own token, read-only as in the mesh, in the file ``CONSUL_TOKEN_FILE`` names."""
    path = tmp_path_factory.mktemp("frontend-token") / "token"
    path.write_text(throwaway_consul.token(rules=READ_ONLY, description="frontend") + "\n")
    return path


@pytest.fixture
def consul_app(offline, throwaway_consul, frontend_token_file):
    """A frontend whose Consul is the throwaway one, reached on its plain-HTTP port as through the gate."""
    return create_app({**offline, "CONSUL_HTTP_ADDR": throwaway_consul.http.address,
                       "CONSUL_TOKEN_FILE": str(frontend_token_file)})


@pytest.fixture
def unique():
    """A name no other test uses: the throwaway Consul lives for the whole run."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def operator_token(throwaway_consul):
    """Make a Consul token for an operator: ``operator_token(rules=..., services=(...))`` -> its secret."""
    def make(rules: str | None = None, services: tuple[str, ...] = (), description: str = "Ann (ops)") -> str:
        return throwaway_consul.token(rules=rules, services=services, description=description)
    return make


@pytest.fixture
def admin(throwaway_consul):
    """The throwaway Consul with its management token, to set things up and to look behind the frontend."""
    return throwaway_consul.https.with_token(throwaway_consul.management)


@pytest.fixture
def sign_in(submit):
    """Sign ``client``'s browser in with ``token`` through the sign-in form."""
    def send(client, token: str):
        return submit(client, "/login", {"token": token})
    return send


class ShopLog:
    """What the frontend logged during a test: each line's message and fields, as they reach stdout."""

    def __init__(self, caplog):
        self.caplog = caplog

    def fields(self, message: str) -> list[dict]:
        """The fields of every line logged with ``message``."""
        return [r.fields for r in self.caplog.records if r.getMessage() == message]

    def text(self) -> str:
        """Everything logged, messages and fields, to look for what must never be there."""
        return json.dumps([[r.getMessage(), getattr(r, "fields", {})] for r in self.caplog.records])


@pytest.fixture
def shop_log(consul_app, caplog):
    """The frontend's log: its logger passes nothing on, so caplog listens to it directly (after
    ``consul_app`` is made, since making an app sets the logger's handlers anew)."""
    logger = logging.getLogger("shop")
    logger.addHandler(caplog.handler)
    yield ShopLog(caplog)
    logger.removeHandler(caplog.handler)
