"""The frontend in a real browser (Debian's Chromium, driven by Playwright) against the real mesh.

The pages come from the real frontend app, run here on a loopback port with the settings `make up`
gives the frontend on :5001: the services through the frontend sidecar's upstream ports, Consul
through the gate with the frontend's read-only token. Operators sign in with Consul tokens made here.
"""

import json
import os
import re
import secrets
import stat
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

import ordertrace
from conftest import FRONTEND, MESH, REPO, SECRETS, eventually, token
from entries import put_entry

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# every run keeps its screenshots under volumes/; `make screenshots` refreshes docs/screenshots/
SCREENSHOTS = REPO / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "volumes") / "screenshots"
# the frontend sidecar's upstream listeners, as its service definition declares them
UPSTREAMS = MESH["frontend"].upstream_env()
GATE = "http://127.0.0.1:8500"
PROMETHEUS = "http://127.0.0.1:9090"
JAEGER = "http://127.0.0.1:16686"
# an operator who may change products' intentions and, for "Try it", act as orders
PRODUCTS_OPERATOR = 'service "products" {\n  policy = "read"\n  intentions = "write"\n}\n' \
                    'service "orders" {\n  policy = "write"\n}\n'


@pytest.fixture(scope="module")
def site(mesh, monkeypatch_module):
    from frontend import create_app
    from shoptesting import serve

    monkeypatch_module.setenv("CONSUL_TOKEN_FILE", str(SECRETS / "acl" / "frontend-read.token"))
    # a key of its own (the main frontend keeps its key in SECRET_KEY_FILE)
    app = create_app({"TESTING": True, **UPSTREAMS, "CONSUL_HTTP_ADDR": GATE, "SECRET_KEY": secrets.token_hex(32),
                      "PROMETHEUS_URL": PROMETHEUS, "JAEGER_QUERY_URL": JAEGER})
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def operator_tokens(mesh):
    """Consul tokens for two operators, made with the management token and deleted afterwards."""
    import requests

    admin = {"X-Consul-Token": token("management")}
    made = {}
    for name, rules in (("products", PRODUCTS_OPERATOR), ("reader", None)):
        body = {"Description": f"browser test: {name} operator {uuid.uuid4().hex[:6]}"}
        if rules:
            policy = requests.put(f"{GATE}/v1/acl/policy", headers=admin, timeout=10,
                                  json={"Name": f"browser-{name}-{uuid.uuid4().hex[:8]}", "Rules": rules}).json()
            body["Policies"] = [{"ID": policy["ID"]}]
        else:
            body["Policies"] = [{"Name": "mesh-read"}]
        made[name] = requests.put(f"{GATE}/v1/acl/token", headers=admin, json=body, timeout=10).json()
    yield {name: t["SecretID"] for name, t in made.items()} | {"accessors": {n: t["AccessorID"] for n, t in made.items()}}
    for made_token in made.values():
        requests.delete(f"{GATE}/v1/acl/token/{made_token['AccessorID']}", headers=admin, timeout=10)
        for policy in made_token.get("Policies") or []:
            if policy["Name"].startswith("browser-"):
                requests.delete(f"{GATE}/v1/acl/policy/{policy['ID']}", headers=admin, timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM}: `apt-get install chromium` (CI does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.set_default_timeout(15000)
    page = context.new_page()
    # Chromium reports what the Content-Security-Policy blocked (an inline script or style) on its console
    blocked = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    yield page
    context.close()
    assert not blocked, f"the page broke its own Content-Security-Policy: {blocked}"


def shot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


def choose(page, label: str, text: str) -> None:
    """Pick the option of the select labelled ``label`` whose text contains ``text``."""
    select = page.get_by_label(label, exact=True)
    value = select.locator("option", has_text=text).first.get_attribute("value")
    select.select_option(value)


def sign_in(page, base: str, secret: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Consul ACL token (secret ID)").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_be_visible()


def test_create_user_product_and_order_through_the_forms(page, site):
    base = site
    tag = uuid.uuid4().hex[:8]

    page.goto(f"{base}/users")
    page.get_by_label("Name").fill(f"Grace {tag}")
    page.get_by_label("Email").fill(f"grace-{tag}@example.com")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User created.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Grace {tag}")

    for name, price, stock in ((f"Lamp {tag}", "24.90", "5"), (f"Bulb {tag}", "3.05", "10")):
        page.goto(f"{base}/products")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Price").fill(price)
        page.get_by_label("Stock").fill(stock)
        page.get_by_role("button", name="Create product").click()
        expect(page.get_by_role("status")).to_have_text("Product created.")

    page.goto(f"{base}/orders/new")
    choose(page, "User", f"Grace {tag}")
    choose(page, "Product 1", f"Lamp {tag}")
    page.get_by_label("Quantity 1", exact=True).fill("2")
    page.get_by_role("button", name="Add another product").click()
    choose(page, "Product 4", f"Bulb {tag}")
    page.get_by_label("Quantity 4", exact=True).fill("3")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text("Order placed.")).to_be_visible()
    # 2 x 24.90 + 3 x 3.05, as the orders service computed it
    expect(page.get_by_test_id("order-total")).to_have_text("58.95")
    shot(page, "order")

    page.goto(f"{base}/products")
    row = page.get_by_role("row").filter(has_text=f"Lamp {tag}")
    expect(row).to_contain_text("3")
    shot(page, "products")


def test_validation_errors_show_next_to_the_field(page, site):
    page.goto(f"{site}/users")
    page.get_by_label("Name").fill("")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_role("button", name="Create user").click()
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_have_text(re.compile("Email must be an email address"))
    expect(page.locator("#name-error")).to_have_text("Name must not be empty")
    expect(email).to_have_value("not-an-email")
    shot(page, "validation")


def test_insufficient_stock_is_explained(page, site, make_user, make_product):
    user, product = make_user(), make_product(stock=1)
    page.goto(f"{site}/orders/new")
    page.get_by_label("User").select_option(str(user["id"]))
    page.get_by_label("Product 1", exact=True).select_option(str(product["id"]))
    page.get_by_label("Quantity 1", exact=True).fill("4")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("order-problem")).to_contain_text("Not enough stock.")
    expect(page.locator("#row-error-1")).to_contain_text("only 1 of product")


def test_denying_an_intention_on_the_page_breaks_the_order_form_until_restored(page, site, consul_client, caplog,
                                                                              operator_tokens, make_user, make_product):
    base = site
    user, product = make_user(), make_product(stock=50)
    original = consul_client.config.get("service-intentions", "products")
    sign_in(page, base, operator_tokens["products"])
    try:
        page.get_by_role("link", name="Edit orders to products").click()
        saved_permissions = page.get_by_label(re.compile("^L7 permissions, as")).input_value()
        assert json.loads(saved_permissions), "the form should show orders' L7 permissions"
        page.get_by_role("radio", name="Deny").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved orders → products: deny.")).to_be_visible()
        expect(page.locator('[data-intention="orders->products"]')).to_contain_text("deny")
        shot(page, "intentions")
        # audited under the token's accessor id and description, never its secret
        changes = [r for r in caplog.records if r.getMessage() == "intention changed"]
        assert changes and changes[-1].fields["accessor"] == operator_tokens["accessors"]["products"], changes
        assert changes[-1].fields["operator"].startswith("browser test: products operator")
        assert not any(operator_tokens["products"] in str(getattr(r, "fields", "")) + r.getMessage()
                       for r in caplog.records)

        page.goto(f"{base}/intentions")
        page.get_by_label("Source", exact=True).last.select_option("orders")
        page.get_by_label("Destination", exact=True).last.select_option("products")
        page.get_by_role("button", name="Try it").click()
        expect(page.locator("#try-result")).to_contain_text("Denied", timeout=20000)

        def refused():
            page.goto(f"{base}/orders/new")
            page.get_by_label("User").select_option(str(user["id"]))
            page.get_by_label("Product 1", exact=True).select_option(str(product["id"]))
            page.get_by_role("button", name="Place order").click()
            return page.get_by_test_id("order-problem").count() and "denied" in page.get_by_test_id("order-problem").inner_text()
        eventually("the order form to report the mesh's denial", refused, timeout=30, logs=("orders",))
        expect(page.get_by_test_id("order-problem")).to_contain_text("A service is unavailable.")
        expect(page.get_by_test_id("order-problem")).to_contain_text("products")
        expect(page.locator("#items-error")).to_have_count(0)
        shot(page, "order-denied")

        page.goto(f"{base}/intentions?edit=orders->products#change")
        page.get_by_role("radio", name="L7 permissions (JSON)").check()
        page.get_by_label(re.compile("^L7 permissions, as")).fill(saved_permissions)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved orders → products: L7 permissions.")).to_be_visible()
    finally:
        restored = consul_client.config.get("service-intentions", "products")
        if [s for s in restored["Sources"] if s["Name"] == "orders"] != \
                [s for s in original["Sources"] if s["Name"] == "orders"]:
            put_entry(consul_client, original)

    def placed():
        page.goto(f"{base}/orders/new")
        page.get_by_label("User").select_option(str(user["id"]))
        page.get_by_label("Product 1", exact=True).select_option(str(product["id"]))
        page.get_by_role("button", name="Place order").click()
        return page.get_by_text("Order placed.").count() > 0
    eventually("the order form to work again after the restore", placed, timeout=30, logs=("orders",))


def test_read_only_without_a_token(page, site):
    page.goto(f"{site}/intentions")
    expect(page.get_by_test_id("read-only")).to_contain_text("Read-only")
    expect(page.get_by_role("link", name=re.compile("^Edit "))).to_have_count(0)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.locator('[data-intention="orders->products"]')).to_be_visible()
    status = page.evaluate("""async () => (await fetch('/api/intentions/orders/products',
        {method: 'PUT', headers: {'Content-Type': 'application/json'}, body: '{"action": "deny"}'})).status""")
    assert status == 401


def test_a_read_only_token_is_refused_plainly(page, site, consul_client, operator_tokens):
    before = consul_client.config.get("service-intentions", "products")["ModifyIndex"]
    sign_in(page, site, operator_tokens["reader"])
    page.goto(f"{site}/intentions?edit=orders->products#change")
    page.get_by_role("radio", name="Deny").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("may not change intentions for products")
    shot(page, "intentions-refused")
    page.goto(f"{site}/intentions")
    page.get_by_label("Source", exact=True).last.select_option("orders")
    page.get_by_label("Destination", exact=True).last.select_option("products")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator("#try-result")).to_contain_text("may not act as orders")
    assert consul_client.config.get("service-intentions", "products")["ModifyIndex"] == before
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("read-only")).to_be_visible()


def test_consuls_ui_shows_the_topology_without_an_acl_warning(page, mesh):
    """Consul's own UI, through the gate, signed in with the management token."""
    page.goto(f"{GATE}/ui/")
    page.evaluate("secret => localStorage.setItem('consul:token', JSON.stringify({SecretID: secret}))",
                  token("management"))
    page.goto(f"{GATE}/ui/dc1/services/orders/topology")
    expect(page.get_by_text("products", exact=True).first).to_be_visible(timeout=20000)
    expect(page.get_by_text("users", exact=True).first).to_be_visible()
    expect(page.get_by_text("allow all services to connect")).to_have_count(0)
    # its metrics provider is the Prometheus make up runs: each card has its numbers (requests per
    # second, error rate, latency), and the dashboard link leads to the frontend's mesh page
    expect(page.get_by_text("RPS").first).to_be_visible(timeout=20000)
    expect(page.get_by_text("P99").first).to_be_visible()
    expect(page.get_by_text("Configure dashboard")).to_have_count(0)
    expect(page.get_by_role("link", name="Open dashboard").first).to_have_attribute(
        "href", re.compile(r"/mesh#svc-orders$"))
    shot(page, "consul-ui-topology")


def test_mesh_page_shows_services_sidecars_and_refreshes(page, site):
    page.goto(f"{site}/mesh")
    orders = page.locator('[data-service="orders"]')
    expect(orders).to_contain_text("orders-sidecar-proxy")
    users = next(u for u in MESH["orders"].upstreams if u.service == "users")
    expect(orders).to_contain_text(f"users on {users.address}:{users.port}")
    expect(orders).to_contain_text("passing")
    expect(page.locator("#refreshed")).to_contain_text("Updated", timeout=10000)
    # each version of products its own instance, named with its version (as refreshed by the page)
    products = page.locator('[data-service="products"]')
    for instance in MESH["products"].instances:
        expect(products).to_contain_text(f"{instance.id} ({instance.version}) at")
    shot(page, "mesh")


def test_mesh_page_draws_the_traffic_on_each_edge(page, site, make_user, make_product):
    import requests

    user, product = make_user(), make_product(stock=100)
    with requests.Session() as http:
        http.trust_env = False
        for _ in range(5):
            placed = http.post(f"{FRONTEND}/api/orders", timeout=15,
                               json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
            assert placed.status_code == 201, placed.text
    page.goto(f"{site}/mesh")
    edge = page.locator('#edges tr[data-edge="orders->products"]')
    expect(edge).to_be_visible(timeout=10000)
    # non-zero once Prometheus has found the Envoys (its Consul discovery refreshes every 10 s, which
    # matters on a mesh just started) and scraped them twice (every 5 s), and the page refreshed
    # (every 3 s): 40 s bounds that on a busy machine (20 s was once too short on a fresh mesh)
    expect(edge.locator("td").nth(2)).not_to_have_text(re.compile(r"^(0(\.0+)?|–)$"), timeout=40000)
    expect(page.locator('#traffic g[data-edge="orders->products"]')).to_contain_text("/s")
    expect(page.locator('#traffic g[data-box="orders"]')).to_have_class(re.compile("passing"))
    expect(page.locator("#traffic-note")).to_be_empty()
    shot(page, "mesh-traffic")


def test_an_operator_moves_the_canary_on_the_mesh_page(page, site, make_product):
    """Signed in, the operator moves products to 90/10 with the page's form; every caller's Envoy
    routes by it, and the drawing shows v2's split edge with its weight and the requests it took."""
    import requests

    import canarylib
    from conftest import meshctl
    from meshctl import envoy_admin

    callers = [MESH["frontend"].admin_port, MESH["orders"].admin_port]
    sign_in(page, site, token("management"))
    try:
        page.goto(f"{site}/mesh")
        form = page.locator('form[data-split="products"]')
        expect(form).to_contain_text("products: v1=100 v2=0")
        form.get_by_label("v1").fill("90")
        form.get_by_label("v2").fill("10")
        form.get_by_role("button", name="Move products's weights").click()
        expect(page.locator("#versions .alert.ok")).to_have_text("products: v1=100 v2=0 → v1=90 v2=10")
        canarylib.wait_for_weights(lambda port: envoy_admin.split_weights(port, "products"), callers,
                                   {"v1": 90, "v2": 10})
        product = make_product(stock=3)
        with requests.Session() as http:
            http.trust_env = False
            for _ in range(60):
                assert http.get(f"{FRONTEND}/api/products/{product['id']}", timeout=15).status_code == 200
        expect(page.locator('#traffic g[data-edge="products->products v2"]')).to_contain_text("10 %")
        expect(page.locator('#traffic g[data-box="products v2"]')).to_have_class(re.compile("passing"))
        # as for any edge (test_mesh_page_draws_the_traffic_on_each_edge): v2's rate within 40 s
        expect(page.locator('#edges tr[data-edge="products->products v2"] td').nth(2)).not_to_have_text(
            re.compile(r"^(0(\.0+)?|–)$"), timeout=40000)
        shot(page, "mesh-canary")
    finally:
        moved = meshctl("split", "products", "v2=0", timeout=30,
                        env={"CONSUL_HTTP_TOKEN_FILE": str(SECRETS / "acl" / "management.token")})
        assert moved.returncode == 0, moved.stdout + moved.stderr


def test_with_prometheus_stopped_the_mesh_page_keeps_the_health_view_and_says_so(page, site):
    from conftest import meshctl
    from meshctl.local import proc

    assert proc("prometheus").stop(), "Prometheus was not running"
    try:
        page.goto(f"{site}/mesh")
        expect(page.locator("#traffic-note")).to_contain_text("does not answer", timeout=10000)
        expect(page.locator("#traffic-note")).to_contain_text("showing health only")
        expect(page.locator('#traffic g[data-box="products"]')).to_have_class(re.compile("passing"))
        expect(page.locator('[data-service="orders"]')).to_contain_text("passing")
        shot(page, "mesh-without-prometheus")
    finally:
        result = meshctl("metrics-up")
        assert result.returncode == 0, result.stdout + result.stderr
    page.reload()
    expect(page.locator("#traffic-note")).to_be_empty(timeout=10000)


def test_an_orders_page_leads_to_the_waterfall_of_its_trace(page, site, make_user, make_product):
    import requests

    user, product = make_user(), make_product(stock=10)
    with requests.Session() as http:
        http.trust_env = False
        placed = http.post(f"{FRONTEND}/api/orders", timeout=15, headers=ordertrace.sampled(),
                           json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 2}]})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    page.goto(f"{site}/orders/{order_id}")
    page.get_by_role("link", name="How this order was placed").click()
    # each app and sidecar exports its spans in batches: the trace fills in within seconds
    for name in ("frontend", "orders", "users", "products", "orders-sidecar-proxy", "products-sidecar-proxy"):
        eventually(f"{name}'s spans in the trace of order {order_id}",
                   lambda n=name: (page.reload(), page.locator(f'tr[data-service="{n}"]').count())[1],
                   timeout=30, interval=1)
    expect(page.get_by_test_id("trace-id")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    shot(page, "order-trace")


def test_pages_work_on_a_narrow_screen_and_by_keyboard(browser, site):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{site}/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px)"
    shot(page, "home-narrow")
    context.close()


def test_a_stopped_service_only_blanks_its_own_section(page, site, consul_client):
    from conftest import meshctl
    from meshctl.local import proc

    assert proc("products").stop(), "products was not running"
    try:
        page.goto(f"{site}/")
        expect(page.get_by_role("alert")).to_contain_text("The products service is unavailable")
        expect(page.locator("section[aria-labelledby=users-h] li").first).to_be_visible()
        expect(page.locator("section[aria-labelledby=orders-h] li").first).to_be_visible()
        page.goto(f"{site}/orders/new")
        expect(page.get_by_role("alert")).to_contain_text("The products service is unavailable")
        expect(page.get_by_label("User")).to_be_enabled()
        shot(page, "degraded")
    finally:
        result = meshctl("up")
        assert result.returncode == 0, result.stdout + result.stderr
    page.goto(f"{site}/")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_the_main_frontend_serves_the_pages(page, mesh):
    response = page.goto(f"{FRONTEND}/")
    expect(page.get_by_role("heading", name="Shop", level=1)).to_be_visible()
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    # make up gave it no SECRET_KEY_FILE: its key is the one it made under volumes/, owner-only
    from meshctl.local import VOLUMES
    assert stat.S_IMODE((VOLUMES / "frontend" / "secret_key").stat().st_mode) == 0o600
    shot(page, "home")


@pytest.mark.parametrize("service", ["frontend", "users", "products", "orders"])
def test_each_api_has_a_docs_page_listing_every_operation(page, mesh, service):
    import requests

    base = MESH[service].url
    document = requests.get(f"{base}/openapi.json", timeout=10).json()
    operations = [(method, path) for path, item in document["paths"].items() for method in item]
    # Swagger UI, from files the service serves itself (the page would break its CSP otherwise)
    page.goto(f"{base}/docs/swagger")
    expect(page.locator(".information-container .title")).to_contain_text(service)
    expect(page.locator(".opblock")).to_have_count(len(operations))
    for method, path in operations:
        expect(page.locator(f".opblock-{method} [data-path='{path}']")).to_have_count(1)
    if service == "frontend":
        page.locator(".opblock-post [data-path='/api/orders']").click()
        opened = page.locator(".opblock-post.is-open")
        expect(opened).to_contain_text("insufficient_stock")
        expect(opened.locator(".responses-wrapper")).to_contain_text("Unprocessable Entity")
        page.set_viewport_size({"width": 1100, "height": 1250})
        shot(page, "api-docs", full_page=False)
