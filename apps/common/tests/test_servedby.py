"""Every answer names who served it (shopcommon.servedby): ``Served-By: service/version/datacenter/instance``,
then whoever served the calls made for it."""

import pytest

from shopcommon.servedby import BadIdentity, identity
from shopcommon.upstream import Upstream
from shoptesting import APP_NAMES, any_app, demo_service, serve


@pytest.fixture
def products_v2(monkeypatch):
    monkeypatch.setenv("SERVICE_VERSION", "v2")
    monkeypatch.setenv("SERVICE_DATACENTER", "dc2")
    monkeypatch.setenv("SERVICE_INSTANCE", "products-2")


def test_the_environment_names_version_datacenter_and_instance(products_v2):
    assert identity("products") == "products/v2/dc2/products-2"


def test_a_process_started_by_hand_is_the_one_instance_of_v1_in_dc1(monkeypatch):
    for name in ("SERVICE_VERSION", "SERVICE_DATACENTER", "SERVICE_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    assert identity("orders") == "orders/v1/dc1/orders"


@pytest.mark.parametrize("value", ["v2/x", "a,b", "V2", "", " ", "x" * 64])
def test_a_part_the_header_cannot_carry_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("SERVICE_INSTANCE", "products-1")
    monkeypatch.setenv("SERVICE_VERSION", value)
    if not value.strip():  # unset or blank: the default
        assert identity("products") == "products/v1/dc1/products-1"
        return
    with pytest.raises(BadIdentity, match="SERVICE_VERSION"):
        identity("products")


@pytest.mark.parametrize("name", APP_NAMES)
@pytest.mark.parametrize("path, status", [("/healthcheck", 200), ("/nowhere", 404), ("/%6detrics", 400)])
def test_every_answer_of_every_app_carries_it(products_v2, tmp_path, name, path, status):
    answer = any_app(name, tmp_path).test_client().get(path)
    assert answer.status_code == status
    assert answer.headers["Served-By"] == f"{name}/v2/dc2/products-2"


def test_a_failing_view_still_names_its_server(products_v2):
    app = demo_service("orders")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the 500 envelope, not the traceback
    answer = app.test_client().get("/boom")
    assert answer.status_code == 500 and answer.headers["Served-By"] == "orders/v2/dc2/products-2"


def test_an_answer_names_who_served_the_calls_made_for_it_after_itself_each_once(monkeypatch):
    monkeypatch.setenv("SERVICE_INSTANCE", "products-2")
    monkeypatch.setenv("SERVICE_DATACENTER", "dc2")
    products = demo_service("products")
    monkeypatch.setenv("SERVICE_INSTANCE", "orders-1")
    monkeypatch.setenv("SERVICE_DATACENTER", "dc1")
    orders = demo_service("orders")
    with serve(products) as url:
        upstream = Upstream("products", url)

        @orders.get("/api/orders/calls/<int:times>")
        def calls(times):
            for n in range(times):
                upstream.call("GET", f"/api/orders/{n + 1}")
            return {"calls": times}

        client = orders.test_client()
        assert client.get("/api/orders/calls/0").headers["Served-By"] == "orders/v1/dc1/orders-1"
        # a reservation and its confirmation: one products instance, named once
        assert client.get("/api/orders/calls/2").headers["Served-By"] == (
            "orders/v1/dc1/orders-1, products/v1/dc2/products-2")
        # the next request starts afresh
        assert client.get("/api/orders/calls/0").headers["Served-By"] == "orders/v1/dc1/orders-1"


def test_a_chain_is_passed_on_whole(monkeypatch):
    """The frontend relays orders' answer, which already names products: all three, in order."""
    def service(name: str, instance: str, calls: tuple[str, str] | None = None):
        monkeypatch.setenv("SERVICE_INSTANCE", instance)
        app = demo_service(name)
        if calls:
            upstream, path = Upstream("next", calls[0]), calls[1]
            app.add_url_rule("/chain", "chain", lambda: upstream.call("GET", path).json())
        return app

    with serve(service("products", "products-2")) as products:
        with serve(service("orders", "orders-1", (products, "/api/orders/1"))) as orders:
            answer = service("frontend", "frontend-2", (orders, "/chain")).test_client().get("/chain")
    assert answer.status_code == 200
    assert answer.headers["Served-By"] == (
        "frontend/v1/dc1/frontend-2, orders/v1/dc1/orders-1, products/v1/dc1/products-2")


def test_the_frontend_shows_who_served_the_page(products_v2, tmp_path):
    page = any_app("frontend", tmp_path).test_client().get("/nowhere")
    assert page.mimetype == "text/html"
    assert "Served by <code>frontend/v2/dc2/products-2</code>" in page.get_data(as_text=True)
