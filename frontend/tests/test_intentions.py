"""The intentions model's checks and the intentions pages' answers that come before, or without, Consul.

Consul itself is a closed port here: every call that reaches it fails to connect, which proves the
refusals tested below happen first.
"""

import pytest

from meshctl import intentions

BEARER = {"Authorization": "Bearer s3cret"}


@pytest.mark.parametrize("source, destination, action, permissions, message", [
    ("", "orders", "allow", None, "source must be a service name"),
    ("web app", "orders", "allow", None, "source must be a service name"),
    ("s" * 65, "orders", "allow", None, "source must be a service name"),
    ("users", "orders/1", "allow", None, "destination must be a service name"),
    ("users", "", "deny", None, "destination must be a service name"),
    ("users", "orders", "permit", None, "action must be allow or deny"),
    ("users", "orders", None, None, "action must be allow or deny"),
    ("users", "orders", None, [], "action must be allow or deny"),
])
def test_the_model_refuses_a_bad_intention_before_asking_consul(closed_port_url, source, destination, action,
                                                                 permissions, message):
    with pytest.raises(intentions.IntentionError) as refused:
        intentions.set_intention(intentions.client(closed_port_url), source, destination, action, permissions)
    assert refused.value.status == 400
    assert message in refused.value.message


@pytest.mark.parametrize("path, body, code", [
    ("/api/intentions/web!app/orders", {"action": "allow"}, "intention_rejected"),
    ("/api/intentions/users/orders", {"action": "maybe"}, "intention_rejected"),
    ("/api/intentions/users/orders", ["allow"], "invalid_body"),
])
def test_api_write_with_the_token_refuses_bad_input_with_400(offline_app, path, body, code):
    response = offline_app.test_client().put(path, json=body, headers=BEARER)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_api_write_says_consul_is_unavailable(offline_app):
    response = offline_app.test_client().put("/api/intentions/users/orders", json={"action": "deny"},
                                             headers=BEARER)
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "consul_unavailable" and error["fields"] == {"upstream": "consul"}


@pytest.mark.parametrize("form, status, message", [
    ({"source": "users", "destination": "orders", "mode": "l7", "permissions": "{nope"}, 400,
     "L7 permissions must be a JSON list"),
    ({"source": "users", "destination": "orders", "mode": "l7", "permissions": "[]"}, 400,
     "L7 permissions must be a non-empty JSON list"),
    ({"source": "web app", "destination": "orders", "mode": "allow"}, 400, "source must be a service name"),
    ({"source": "users", "destination": "orders", "mode": "allow"}, 503, "did not answer"),
])
def test_the_form_shows_what_was_refused_and_keeps_the_input(operator_client, submit, form, status, message):
    response = submit(operator_client, "/intentions", form)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in page
    assert f'value="{form["source"]}"' in page


def test_the_form_needs_a_signed_in_operator(offline_app, submit):
    response = submit(offline_app.test_client(), "/intentions", {"source": "users", "destination": "orders"})
    assert response.status_code == 401
    assert "sign in with the admin token" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/mesh", "/intentions"])
def test_pages_render_and_say_when_consul_is_unavailable(read_only_app, path):
    response = read_only_app.test_client().get(path)
    assert response.status_code == 200
    assert "did not answer" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/mesh.json", "/api/intentions"])
def test_json_answers_503_when_consul_is_unavailable(read_only_app, path):
    response = read_only_app.test_client().get(path)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "consul_unavailable"


@pytest.mark.parametrize("body, status, code", [
    ({"source": "orders", "destination": "products", "path": "products"}, 400, "invalid_path"),
    ({"source": "orders", "destination": "products", "path": "/a b"}, 400, "invalid_path"),
    ({"source": "orders", "destination": "products", "method": "head"}, 503, "consul_unavailable"),
])
def test_try_it_checks_its_input_before_asking_consul(read_only_app, csrf_token, body, status, code):
    c = read_only_app.test_client()
    response = c.post("/api/intentions/try", json=body, headers={"X-CSRFToken": csrf_token(c, "/intentions")})
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
