"""Who may change intentions: sign-in, sign-out and the admin token on API calls; no Consul needed."""

import pytest

from frontend.operators import operator


def test_sign_in_page_is_403_without_a_configured_token(read_only_app):
    response = read_only_app.test_client().get("/login")
    assert response.status_code == 403
    assert "intentions are read-only" in response.get_data(as_text=True)


@pytest.mark.parametrize("form, message", [
    ({"name": "", "token": "s3cret"}, "say who you are"),
    ({"name": "   ", "token": "s3cret"}, "say who you are"),
    ({"name": "Eve", "token": "wrong"}, "that is not the admin token"),
    ({"name": "Eve"}, "that is not the admin token"),
])
def test_refused_sign_in_says_why_and_signs_nobody_in(offline_app, submit, form, message):
    c = offline_app.test_client()
    response = submit(c, "/login", form)
    assert response.status_code == 401
    assert message in response.get_data(as_text=True)
    with c.session_transaction() as session:
        assert "operator" not in session


def test_sign_in_then_out(offline_app, submit):
    c = offline_app.test_client()
    assert c.get("/login").status_code == 200
    response = submit(c, "/login", {"name": "  Ann  ", "token": "s3cret"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/intentions"
    with c.session_transaction() as session:
        assert session["operator"] == "Ann"

    response = submit(c, "/logout", {}, page="/intentions")
    assert response.status_code == 303
    assert response.headers["Location"] == "/intentions"
    with c.session_transaction() as session:
        assert "operator" not in session


def test_the_intentions_page_names_the_signed_in_operator(operator_client):
    page = operator_client.get("/intentions").get_data(as_text=True)
    assert "Signed in as <strong>Ann</strong>" in page


@pytest.mark.parametrize("headers, expected", [
    ({"Authorization": "Bearer s3cret"}, "api client"),
    ({"Authorization": "Bearer  s3cret "}, "api client"),
    ({"Authorization": "Bearer s3cret", "X-Operator": "deploy-bot"}, "deploy-bot"),
    ({"Authorization": "Bearer s3cret", "X-Operator": "x" * 100}, "x" * 64),
    ({"Authorization": "Bearer wrong", "X-Operator": "deploy-bot"}, None),
    ({"Authorization": "s3cret"}, None),
    ({}, None),
])
def test_api_callers_are_operators_only_with_the_token(offline_app, headers, expected):
    with offline_app.test_request_context(headers=headers):
        assert operator() == expected


def test_nobody_is_an_operator_without_a_configured_token(read_only_app):
    with read_only_app.test_request_context(headers={"Authorization": "Bearer None"}):
        assert operator() is None
