"""CSRF tokens on state-changing requests, the security headers, and the secret key file."""

import re
import stat
import threading
from pathlib import Path

import pytest

from frontend import create_app, security
from shopcommon.config import MissingSetting

MADE_UP = {"X-Consul-Token": "not-a-real-token"}
NEW_ORDER = {"user_id": "1", "request_id": "r1", "product_id": ["1"], "quantity": ["1"]}


# --- CSRF -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, form, stored", [
    ("/users", {"name": "Ada", "email": "ada@example.com"}, "/api/users"),
    ("/products", {"name": "Lamp", "price": "5.00", "stock": "3"}, "/api/products"),
    ("/orders/new", NEW_ORDER, "/api/orders"),
])
@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_form_without_a_valid_token_is_refused_and_stores_nothing(client, path, form, stored, token):
    client.get(path)  # the browser has a session, as after opening any page
    data = form if token is None else {**form, "csrf_token": token}
    response = client.post(path, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Form expired" in page and "reload the page" in page
    assert client.get(stored).get_json()["total"] == 0


def test_a_form_with_the_token_from_its_page_is_accepted(client, csrf_token):
    token = csrf_token(client, "/users")
    response = client.post("/users", data={"name": "Ada", "email": "ada@example.com", "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/api/users").get_json()["items"][0]["email"] == "ada@example.com"


def test_a_token_is_good_only_with_the_session_it_was_issued_to(services, csrf_token):
    app = create_app({"TESTING": True, **services})
    token = csrf_token(app.test_client(), "/users")
    response = app.test_client().post("/users", data={"name": "Ada", "email": "ada@example.com",
                                                      "csrf_token": token})
    assert response.status_code == 400
    assert app.test_client().get("/api/users").get_json()["total"] == 0


def test_the_relay_takes_api_posts_without_a_token(client):
    client.get("/users")  # even with a session cookie in the jar
    response = client.post("/api/users", json={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 201
    assert client.get(f"/api/users/{response.get_json()['id']}").get_json()["name"] == "Ada"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_the_relay_refuses_what_another_sites_page_could_post_without_asking(client, content_type):
    """The relay needs no CSRF token because a cross-site form or simple fetch cannot send JSON."""
    response = client.post("/api/users", data='{"name": "Eve", "email": "eve@example.com"}',
                           headers={"Content-Type": content_type})
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "unsupported_media_type"
    assert client.get("/api/users").get_json()["total"] == 0


def test_sign_in_and_out_need_the_token(offline_app, operator_client):
    stranger = offline_app.test_client()
    # refused before Consul (a closed port) is asked: a 503 would mean the form got that far
    assert stranger.post("/login", data={"token": "anything"}).status_code == 400
    with stranger.session_transaction() as session:
        assert "operator" not in session

    assert operator_client.post("/logout").status_code == 400
    assert "Signed in as <strong>Ann (ops)</strong>" in operator_client.get("/intentions").get_data(as_text=True)


def test_the_intentions_form_needs_the_token_before_anything_else(operator_client):
    # Consul is a closed port: a 503 would mean the form got as far as asking it
    response = operator_client.post("/intentions", data={"source": "users", "destination": "orders",
                                                         "mode": "deny"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)


def test_try_it_from_the_session_needs_the_token_in_its_header(operator_client, csrf_token):
    body = {"source": "orders", "destination": "products"}
    refused = operator_client.post("/api/intentions/try", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == {"code": "csrf_failed", "message": "The CSRF token is missing.",
                                           "fields": {}}
    answered = operator_client.post("/api/intentions/try", json=body,
                                    headers={"X-CSRFToken": csrf_token(operator_client, "/intentions")})
    assert answered.get_json()["error"]["code"] == "consul_unavailable"


@pytest.mark.parametrize("path, method", [("/api/intentions/users/orders", "put"),
                                          ("/api/intentions/users/orders", "delete"),
                                          ("/api/intentions/try", "post")])
@pytest.mark.parametrize("header", [MADE_UP, {"Authorization": "Bearer not-a-real-token"}])
def test_calls_with_a_token_in_a_header_need_no_csrf_token(offline_app, path, method, header):
    c = offline_app.test_client()
    c.get("/login")  # even with a session cookie in the jar
    response = getattr(c, method)(path, json={"action": "deny", "source": "orders", "destination": "products"},
                                  headers=header)
    assert response.get_json()["error"]["code"] == "consul_unavailable"  # it went on to ask Consul who it is


@pytest.mark.parametrize("method", ["put", "delete"])
def test_the_intentions_api_with_the_session_cookie_needs_the_csrf_header(operator_client, csrf_token, method):
    call = getattr(operator_client, method)
    path, body = "/api/intentions/users/orders", {"action": "deny"}
    for headers in ({}, {"X-CSRFToken": "forged"}):
        refused = call(path, json=body, headers=headers)
        assert refused.status_code == 400
        assert refused.get_json()["error"]["code"] == "csrf_failed"
    answered = call(path, json=body, headers={"X-CSRFToken": csrf_token(operator_client, "/intentions")})
    assert answered.get_json()["error"]["code"] == "consul_unavailable"


def test_csrf_guards_real_changes_made_with_a_signed_in_session(consul_app, operator_token, sign_in, csrf_token,
                                                                 admin, unique):
    destination = f"{unique}-products"
    c = consul_app.test_client()
    token = operator_token(rules=f'service "{destination}" {{ policy = "read" intentions = "write" }}')
    assert sign_in(c, token).status_code == 303
    path = f"/api/intentions/web/{destination}"
    refused = c.put(path, json={"action": "allow"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert admin.config_entry("service-intentions", destination) is None
    answered = c.put(path, json={"action": "allow"}, headers={"X-CSRFToken": csrf_token(c, "/intentions")})
    assert answered.status_code == 200
    assert admin.config_entry("service-intentions", destination)["Sources"][0]["Action"] == "allow"


# --- security headers -----------------------------------------------------------------------------

@pytest.fixture
def crashing_app(offline_app):
    @offline_app.get("/api/crash")
    def crash():
        raise RuntimeError("boom")
    return offline_app


@pytest.mark.parametrize("method, path, status, mimetype", [
    ("get", "/", 200, "text/html"),
    ("get", "/api/users", 503, "application/json"),
    ("get", "/healthcheck", 200, "application/json"),
    ("get", "/nowhere", 404, "text/html"),
    ("get", "/api/nowhere", 404, "application/json"),
    ("get", "/api/crash", 500, "application/json"),
    ("post", "/users", 400, "text/html"),
    ("get", "/static/style.css", 200, "text/css"),
    ("get", "/static/intentions.js", 200, "text/javascript"),
])
def test_every_response_carries_the_security_headers(crashing_app, method, path, status, mimetype):
    with getattr(crashing_app.test_client(), method)(path) as response:  # a static file is an open file
        assert (response.status_code, response.mimetype) == (status, mimetype)
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/users", "/products", "/orders", "/orders/new", "/mesh", "/intentions",
                                  "/login", "/nowhere"])
def test_pages_hold_no_inline_script_or_style_the_policy_would_block(operator_client, path):
    page = operator_client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\s(style|on[a-z]+)\s*=", page)


# --- the secret key -------------------------------------------------------------------------------

def test_the_key_file_is_made_owner_only_on_first_start_and_reused(offline, secret_key_file):
    assert not secret_key_file.exists()
    first = create_app(offline)
    mode = stat.S_IMODE(secret_key_file.stat().st_mode)
    assert mode == 0o600
    assert len(bytes.fromhex(secret_key_file.read_text().strip())) >= 32
    assert first.secret_key == secret_key_file.read_text().strip()
    assert create_app(offline).secret_key == first.secret_key
    assert [p.name for p in secret_key_file.parent.iterdir()] == ["secret_key"]


def test_workers_starting_together_end_with_one_key(tmp_path, monkeypatch):
    path = tmp_path / "frontend" / "secret_key"
    workers = 8
    start, keys = threading.Barrier(workers), []

    def worker():
        start.wait()
        keys.append(security.load_secret_key(path))

    # every worker finds no key yet, as when gunicorn starts them at the same moment on a first start
    monkeypatch.setattr(Path, "exists", lambda self, **kwargs: False)
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert len(keys) == workers and set(keys) == {path.read_text().strip()}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_local_mode_keeps_the_key_under_volumes_dir(offline, monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY_FILE")
    monkeypatch.setenv("VOLUMES_DIR", str(tmp_path / "volumes"))
    app = create_app(offline)
    assert app.secret_key == (tmp_path / "volumes" / "frontend" / "secret_key").read_text().strip()


def test_a_missing_secret_key_file_setting_stops_the_start_naming_it(offline, monkeypatch):
    monkeypatch.delenv("SECRET_KEY_FILE")
    monkeypatch.delenv("VOLUMES_DIR", raising=False)
    with pytest.raises(MissingSetting, match="SECRET_KEY_FILE"):
        create_app(offline)
    assert create_app({**offline, "SECRET_KEY": "k" * 32}).secret_key == "k" * 32  # tests need no file


def test_a_key_file_too_short_stops_the_start_without_showing_it(offline, secret_key_file):
    secret_key_file.parent.mkdir()
    secret_key_file.write_text("short-key\n")
    with pytest.raises(MissingSetting, match="SECRET_KEY_FILE") as refused:
        create_app(offline)
    assert "short-key" not in str(refused.value)


def test_the_key_is_never_logged(offline, secret_key_file, capsys):
    app = create_app(offline)
    app.test_client().get("/nowhere")
    out, err = capsys.readouterr()
    assert app.secret_key not in out + err
