"""Who is changing intentions: sign-in with a Consul token, sign-out, tokens on API calls, and the
frontend's own token; Consul is the real throwaway one unless a test says otherwise."""

import json
import time

import pytest

from frontend import create_app, operators
from shopcommon.config import MissingSetting


def test_sign_in_with_a_good_token_remembers_who_and_seals_the_token(consul_app, sign_in, operator_token,
                                                                      shop_log):
    token = operator_token(rules='service "products" { policy = "read" intentions = "write" }')
    c = consul_app.test_client()
    response = sign_in(c, token)
    assert response.status_code == 303
    assert response.headers["Location"] == "/intentions"
    with c.session_transaction() as session:
        saved = dict(session["operator"])
    assert saved["description"] == "Ann (ops)" and len(saved["accessor"]) == 36
    assert token not in json.dumps(saved)  # the cookie is only signed: the token is in it encrypted
    page = c.get("/intentions").get_data(as_text=True)
    assert f"Signed in as <strong>Ann (ops)</strong> (token <code>{saved['accessor'][:8]}</code>)" in page
    assert 'name="mode"' in page and 'id="try-form"' in page
    assert [f["accessor"] for f in shop_log.fields("intentions sign-in")] == [saved["accessor"]]
    assert token not in shop_log.text()


@pytest.mark.parametrize("token, status, message", [
    ("11111111-2222-3333-4444-555555555555", 401, "Consul does not know that token"),
    ("not even a uuid", 401, "Consul does not know that token"),
    ("   ", 400, "paste your Consul ACL token"),
])
def test_a_refused_sign_in_says_why_signs_nobody_in_and_logs_no_token(consul_app, sign_in, shop_log, token,
                                                                      status, message):
    c = consul_app.test_client()
    response = sign_in(c, token)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with c.session_transaction() as session:
        assert "operator" not in session
    if status == 401:
        assert [f["ip"] for f in shop_log.fields("failed intentions sign-in")] == ["127.0.0.1"]
        assert token not in shop_log.text()


def test_sign_in_says_when_consul_does_not_answer(offline_app, submit):
    response = submit(offline_app.test_client(), "/login", {"token": "whatever"})
    assert response.status_code == 503
    assert "did not answer" in response.get_data(as_text=True)


def test_sign_out_forgets_the_operator_and_their_token(consul_app, sign_in, submit, operator_token):
    c = consul_app.test_client()
    assert sign_in(c, operator_token(rules='service "x" { policy = "read" }')).status_code == 303
    response = submit(c, "/logout", {}, page="/intentions")
    assert response.status_code == 303 and response.headers["Location"] == "/intentions"
    with c.session_transaction() as session:
        assert "operator" not in session
    page = c.get("/intentions").get_data(as_text=True)
    assert "Sign in with a Consul token" in page and "Signed in as" not in page and 'name="mode"' not in page


def test_without_a_sign_in_the_page_is_read_only_with_a_way_to_sign_in(offline_app):
    page = offline_app.test_client().get("/intentions").get_data(as_text=True)
    assert 'data-testid="read-only"' in page
    assert '<a href="/login">Sign in with a Consul token</a>' in page
    assert 'name="mode"' not in page and 'id="try-form"' not in page


def test_a_sign_in_lasts_a_working_day(operator_client, ann):
    assert operators.SIGN_IN_SECONDS == 12 * 3600
    with operator_client.application.app_context():
        old = operators._fernet().encrypt_at_time(ann.token.encode(), int(time.time()) - operators.SIGN_IN_SECONDS - 60)
    with operator_client.session_transaction() as session:
        session["operator"] = {**session["operator"], "token": old.decode()}
    assert "Signed in as" not in operator_client.get("/intentions").get_data(as_text=True)


def test_a_token_sealed_with_another_key_signs_nobody_in(offline, operator_client, sign_in_without_consul):
    other = create_app({**offline, "SECRET_KEY": "another-key-" * 4}).test_client()
    sign_in_without_consul(other)
    with other.session_transaction() as session:
        sealed_elsewhere = session["operator"]
    with operator_client.session_transaction() as session:
        session["operator"] = sealed_elsewhere
    assert "Signed in as" not in operator_client.get("/intentions").get_data(as_text=True)


@pytest.mark.parametrize("headers, expected", [
    ({"X-Consul-Token": "abc"}, "abc"),
    ({"X-Consul-Token": " abc "}, "abc"),
    ({"Authorization": "Bearer abc"}, "abc"),
    ({"Authorization": "bearer  abc "}, "abc"),
    ({"X-Consul-Token": "abc", "Authorization": "Bearer other"}, "abc"),
    ({"Authorization": "Basic abc"}, None),
    ({"Authorization": "abc"}, None),
    ({"X-Consul-Token": ""}, None),
    ({}, None),
])
def test_the_token_an_api_client_sends(offline_app, headers, expected):
    with offline_app.test_request_context(headers=headers):
        assert operators.header_token() == expected


# --- the frontend's own token ---------------------------------------------------------------------

def test_the_frontend_reads_with_its_own_token(consul_app, offline, throwaway_consul, admin, unique):
    admin.call("PUT", "/v1/config", {"Kind": "service-intentions", "Name": unique,
                                     "Sources": [{"Name": "web", "Action": "allow"}]})
    listed = consul_app.test_client().get("/api/intentions").get_json()["intentions"]
    assert {"source": "web", "destination": unique} in [{k: i[k] for k in ("source", "destination")} for i in listed]
    # anonymous, Consul's default deny shows nothing: the listing above came through the token
    anonymous = create_app({**offline, "CONSUL_HTTP_ADDR": throwaway_consul.http.address})
    assert unique not in json.dumps(anonymous.test_client().get("/api/intentions").get_json())


@pytest.mark.parametrize("setting", ["config", "environment"])
def test_the_frontend_refuses_to_start_without_its_token_file(offline, monkeypatch, tmp_path, setting):
    missing = tmp_path / "no-such-token"
    if setting == "config":
        start = lambda: create_app({**offline, "CONSUL_TOKEN_FILE": str(missing)})  # noqa: E731
    else:
        monkeypatch.setenv("CONSUL_TOKEN_FILE", str(missing))
        start = lambda: create_app(offline)  # noqa: E731
    with pytest.raises(MissingSetting, match=f"CONSUL_TOKEN_FILE {missing} cannot be read: No such file"):
        start()


def test_an_empty_token_file_stops_the_start_and_a_good_one_is_read(offline, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(MissingSetting, match="is empty"):
        create_app({**offline, "CONSUL_TOKEN_FILE": str(empty)})
    secret = tmp_path / "secret"
    secret.write_text("s3cret-frontend-token\n")
    app = create_app({**offline, "CONSUL_TOKEN_FILE": str(secret)})
    assert app.config["CONSUL_TOKEN"] == "s3cret-frontend-token"
