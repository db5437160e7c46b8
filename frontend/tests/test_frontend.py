import pytest

from frontend import create_app
from shopcommon import db


def test_forwards_and_passes_status_and_body_through(client):
    user = client.post("/api/users", json={"name": "Ada", "email": "ada@example.com"})
    assert user.status_code == 201
    assert user.headers["Location"] == f"/api/users/{user.get_json()['id']}"
    product = client.post("/api/products", json={"name": "Widget", "price": "2.50", "stock": 3}).get_json()
    order = client.post("/api/orders", json={"user_id": user.get_json()["id"],
                                             "items": [{"product_id": product["id"], "quantity": 2}]})
    assert order.status_code == 201
    assert order.get_json()["total"] == "5.00"
    assert client.get(f"/api/products/{product['id']}").get_json()["stock"] == 1
    assert client.get("/api/orders?limit=1").get_json()["total"] == 1


def test_service_errors_pass_through_unchanged(client):
    missing = client.get("/api/products/42")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "product_not_found"
    bad = client.post("/api/users", json={"name": "", "email": "x"})
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {"name", "email"}


def test_idempotency_key_is_forwarded(client):
    uid = client.post("/api/users", json={"name": "A", "email": "a@example.com"}).get_json()["id"]
    pid = client.post("/api/products", json={"name": "P", "price": "1", "stock": 5}).get_json()["id"]
    body = {"user_id": uid, "items": [{"product_id": pid, "quantity": 1}]}
    first = client.post("/api/orders", json=body, headers={"Idempotency-Key": "same"})
    again = client.post("/api/orders", json=body, headers={"Idempotency-Key": "same"})
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.get(f"/api/products/{pid}").get_json()["stock"] == 4


def test_reservations_are_not_reachable_through_the_frontend(client):
    assert client.put("/api/products/reservations/x", json={}).status_code in (404, 405)


def test_page_lists_every_section(client):
    client.post("/api/users", json={"name": "Grace", "email": "grace@example.com"})
    page = client.get("/")
    assert page.status_code == 200
    assert "grace@example.com" in page.get_data(as_text=True)
    assert 'role="alert"' not in page.get_data(as_text=True)


def test_page_degrades_when_one_service_is_down(services, closed_port_url):
    app = create_app({"TESTING": True, **services, "PRODUCTS_URL": closed_port_url})
    page = app.test_client().get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "The products service is unavailable" in text
    assert "No users yet." in text and "No orders yet." in text


def test_unreachable_service_is_a_json_503(services, closed_port_url):
    app = create_app({"TESTING": True, **services, "USERS_URL": closed_port_url})
    response = app.test_client().get("/api/users")
    assert response.status_code == 503
    assert response.get_json()["error"]["fields"]["upstream"] == "users"


def test_frontend_has_no_database(monkeypatch, closed_port_url):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("VOLUMES_DIR", raising=False)
    app = create_app({"TESTING": True, **{f"{name}_URL": closed_port_url for name in ("USERS", "PRODUCTS", "ORDERS")}})

    @app.get("/api/crash")
    def crash():
        raise RuntimeError("boom")

    assert "sqlalchemy" not in app.extensions
    monkeypatch.setattr(db.session, "rollback", lambda: pytest.fail("rolled back a session the frontend lacks"))
    client = app.test_client()
    assert client.get("/healthcheck").get_json() == {"status": "ok", "service": "frontend"}
    # each error handler answers without touching a session
    assert client.get("/api/users").status_code == 503
    too_large = client.post("/api/users", data=b"x" * 70_000, content_type="application/json")
    assert too_large.get_json()["error"]["code"] == "payload_too_large"
    assert client.get("/api/crash").get_json()["error"]["code"] == "internal_error"


def test_metrics_count_forwarded_calls_by_route(client):
    client.get("/api/products/42")
    client.get("/api/products/43")
    text = client.get("/metrics").get_data(as_text=True)
    assert ('http_requests_total{method="GET",route="/api/products/<id:product_id>",'
            'service="frontend",status="404"} 2.0') in text
