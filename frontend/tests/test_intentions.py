"""The intentions model's checks, the intentions pages' answers that come before or without Consul, and
changes made with operators' own tokens against the real throwaway Consul, which decides what each may do.

In the first part Consul is a closed port: every call that reaches it fails to connect, which proves the
refusals tested there happen first.
"""

import json
import socket

import pytest

from meshctl import intentions

KIND = "service-intentions"
MADE_UP = {"X-Consul-Token": "not-a-real-token"}


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
def test_api_write_refuses_bad_input_with_400(operator_client, csrf_token, path, body, code):
    response = operator_client.put(path, json=body, headers={"X-CSRFToken": csrf_token(operator_client, "/intentions")})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_api_write_says_consul_is_unavailable(offline_app):
    response = offline_app.test_client().put("/api/intentions/users/orders", json={"action": "deny"},
                                             headers=MADE_UP)
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
    response = submit(offline_app.test_client(), "/intentions", {"source": "users", "destination": "orders"},
                      page="/login")
    assert response.status_code == 401
    assert "sign in with a Consul token to change intentions" in response.get_data(as_text=True)


@pytest.mark.parametrize("method", ["put", "delete"])
def test_api_writes_without_a_token_are_401(offline_app, method):
    response = getattr(offline_app.test_client(), method)("/api/intentions/users/orders", json={"action": "deny"})
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "unauthorized", "fields": {},
                                            "message": "sign in with a Consul token to change intentions"}


@pytest.mark.parametrize("path", ["/mesh", "/intentions"])
def test_pages_render_and_say_when_consul_is_unavailable(offline_app, path):
    response = offline_app.test_client().get(path)
    assert response.status_code == 200
    assert "did not answer" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/mesh.json", "/api/intentions"])
def test_json_answers_503_when_consul_is_unavailable(offline_app, path):
    response = offline_app.test_client().get(path)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "consul_unavailable"


@pytest.mark.parametrize("body, status, code", [
    ({"source": "orders", "destination": "products", "path": "products"}, 400, "invalid_path"),
    ({"source": "orders", "destination": "products", "path": "/a b"}, 400, "invalid_path"),
    ({"source": "orders", "destination": "products", "method": "DELETE"}, 400, "unsafe_method"),
    ({"source": "../acl/token/self", "destination": "products"}, 400, "invalid_service"),
    ({"source": "*", "destination": "products"}, 400, "invalid_service"),
    ({"source": "orders", "destination": ""}, 400, "invalid_service"),
    ({"source": "orders", "destination": "products", "method": "head"}, 503, "consul_unavailable"),
])
def test_try_it_checks_its_input_before_asking_consul(operator_client, csrf_token, body, status, code):
    response = operator_client.post("/api/intentions/try", json=body,
                                    headers={"X-CSRFToken": csrf_token(operator_client, "/intentions")})
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_try_it_needs_a_token(offline_app, csrf_token):
    c = offline_app.test_client()
    # the sign-in page's token: the intentions page has no form for someone not signed in
    response = c.post("/api/intentions/try", json={"source": "orders", "destination": "products"},
                      headers={"X-CSRFToken": csrf_token(c, "/login")})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "sign in with a Consul token to try intentions"


# --- with operators' own tokens, against the real throwaway Consul --------------------------------

def may_change(destination: str) -> str:
    """An operator's rules that let them change the intentions of ``destination`` and nothing else."""
    return f'service "{destination}" {{ policy = "read" intentions = "write" }}'


def sources(admin, destination: str) -> list[dict]:
    """What Consul holds for ``destination``, seen with the management token."""
    entry = admin.config_entry(KIND, destination)
    return [{k: s[k] for k in ("Name", "Action") if k in s} for s in (entry or {}).get("Sources") or []]


def put_sources(admin, destination: str, **actions: str) -> None:
    """Set ``destination``'s intentions behind the frontend's back, e.g. ``web="allow"``."""
    admin.call("PUT", "/v1/config", {"Kind": KIND, "Name": destination,
                                     "Sources": [{"Name": n, "Action": a} for n, a in actions.items()]})


@pytest.mark.parametrize("header", ["X-Consul-Token", "Authorization"])
def test_a_token_with_intentions_write_sets_and_deletes_and_each_change_is_logged(
        consul_app, operator_token, admin, unique, shop_log, header):
    destination = f"{unique}-products"
    token = operator_token(rules=may_change(destination))
    who = {"X-Consul-Token": token} if header == "X-Consul-Token" else {"Authorization": f"Bearer {token}"}
    c = consul_app.test_client()

    response = c.put(f"/api/intentions/web/{destination}", json={"action": "allow"}, headers=who)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"intention": {"source": "web", "destination": destination, "Name": "web",
                                                 "Action": "allow"}}
    assert sources(admin, destination) == [{"Name": "web", "Action": "allow"}]
    response = c.delete(f"/api/intentions/web/{destination}", headers=who)
    assert response.status_code == 200
    assert sources(admin, destination) == []

    logged = shop_log.fields("intention changed")
    assert [(f["change"], f["intention"]) for f in logged] == [("set", f"web -> {destination}"),
                                                               ("delete", f"web -> {destination}")]
    for fields in logged:
        assert fields["operator"] == "Ann (ops)" and len(fields["accessor"]) == 36 and fields["ip"] == "127.0.0.1"
    assert logged[0]["before"] is None and logged[0]["after"] == {"Name": "web", "Action": "allow"}
    assert logged[1]["before"]["Action"] == "allow" and logged[1]["after"] is None
    assert token not in shop_log.text()


def test_a_signed_in_operator_changes_intentions_on_the_page(consul_app, operator_token, admin, unique, sign_in,
                                                             submit, shop_log):
    destination = f"{unique}-products"
    c = consul_app.test_client()
    assert sign_in(c, operator_token(rules=may_change(destination))).status_code == 303
    response = submit(c, "/intentions", {"source": "web", "destination": destination, "mode": "deny"})
    assert response.status_code == 303
    assert "Saved" in c.get(response.headers["Location"]).get_data(as_text=True)
    assert sources(admin, destination) == [{"Name": "web", "Action": "deny"}]
    assert shop_log.fields("intention changed")[0]["operator"] == "Ann (ops)"


def test_a_read_only_token_is_refused_403_and_nothing_changes(consul_app, operator_token, admin, unique,
                                                              shop_log):
    destination = f"{unique}-products"
    put_sources(admin, destination, web="allow")
    reader = {"X-Consul-Token": operator_token(rules='service_prefix "" { policy = "read" intentions = "read" }')}
    c = consul_app.test_client()
    message = (f"your token may not change intentions for {destination}: "
               f'it needs intentions = "write" on {destination}')
    for call in (lambda: c.put(f"/api/intentions/web/{destination}", json={"action": "deny"}, headers=reader),
                 lambda: c.put(f"/api/intentions/db/{destination}", json={"action": "allow"}, headers=reader),
                 lambda: c.delete(f"/api/intentions/web/{destination}", headers=reader)):
        response = call()
        assert response.status_code == 403
        assert response.get_json()["error"] == {"code": "forbidden", "message": message, "fields": {}}
    assert sources(admin, destination) == [{"Name": "web", "Action": "allow"}]
    assert shop_log.fields("intention changed") == []


def test_a_read_only_token_is_refused_on_the_page_with_the_reason_shown(consul_app, operator_token, admin,
                                                                         unique, sign_in, submit):
    destination = f"{unique}-products"
    put_sources(admin, destination, web="allow")
    c = consul_app.test_client()
    reader = operator_token(rules='service_prefix "" { policy = "read" intentions = "read" }')
    assert sign_in(c, reader).status_code == 303
    response = submit(c, "/intentions", {"source": "web", "destination": destination, "mode": "deny"})
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert (f'<p class="alert bad" role="alert">your token may not change intentions for {destination}: '
            f'it needs intentions = &#34;write&#34; on {destination}</p>') in page
    assert f'value="{destination}"' in page  # the form keeps what was typed
    assert sources(admin, destination) == [{"Name": "web", "Action": "allow"}]


def test_an_unknown_token_on_an_api_call_is_401(consul_app, unique):
    response = consul_app.test_client().put(f"/api/intentions/web/{unique}", json={"action": "allow"},
                                            headers={"X-Consul-Token": "11111111-2222-3333-4444-555555555555"})
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Consul does not know that token"


def test_a_deleted_token_signs_its_browser_out_of_changes(consul_app, operator_token, admin, unique, sign_in,
                                                          csrf_token):
    destination = f"{unique}-products"
    token = operator_token(rules=may_change(destination))
    c = consul_app.test_client()
    assert sign_in(c, token).status_code == 303
    admin.call("DELETE", f"/v1/acl/token/{admin.with_token(token).call('GET', '/v1/acl/token/self')['AccessorID']}")
    response = c.put(f"/api/intentions/web/{destination}", json={"action": "allow"},
                     headers={"X-CSRFToken": csrf_token(c, "/intentions")})
    assert response.status_code == 401
    assert "sign in again" in response.get_json()["error"]["message"]


def test_a_change_that_lost_a_race_is_409(consul_app, operator_token, admin, unique, monkeypatch):
    destination = f"{unique}-products"
    put_sources(admin, destination, web="allow")
    stale = admin.config_entry(KIND, destination)
    put_sources(admin, destination, db="allow")
    # the frontend read the entry just before somebody else changed it
    monkeypatch.setattr(intentions, "_entry", lambda c, name: json.loads(json.dumps(stale)))
    response = consul_app.test_client().put(f"/api/intentions/web/{destination}", json={"action": "deny"},
                                            headers={"X-Consul-Token": operator_token(rules=may_change(destination))})
    assert response.status_code == 409
    assert "changed meanwhile" in response.get_json()["error"]["message"]
    assert sources(admin, destination) == [{"Name": "db", "Action": "allow"}]


# --- try it, with the operator's token -------------------------------------------------------------

def test_try_it_refuses_a_token_that_may_not_act_as_the_source(consul_app, operator_token, unique):
    token = operator_token(rules=may_change(f"{unique}-products"))
    response = consul_app.test_client().post("/api/intentions/try", headers={"X-Consul-Token": token},
                                             json={"source": f"{unique}-orders", "destination": f"{unique}-products"})
    assert response.status_code == 403
    assert response.get_json()["error"] == {
        "code": "forbidden", "fields": {},
        "message": f"your token may not act as {unique}-orders: it needs service:write on {unique}-orders"}


def test_try_it_as_a_source_the_token_may_write_fetches_its_certificate(consul_app, operator_token, admin,
                                                                         unique, sign_in, csrf_token):
    source, destination = f"{unique}-orders", f"{unique}-products"
    with socket.socket() as s:  # a sidecar that is registered but does not listen
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    admin.call("PUT", "/v1/agent/service/register", {"Name": destination, "Port": port})
    admin.call("PUT", "/v1/agent/service/register", {
        "Name": f"{destination}-sidecar-proxy", "Kind": "connect-proxy", "Port": port, "Address": "127.0.0.1",
        "Proxy": {"DestinationServiceName": destination, "DestinationServiceID": destination}})
    c = consul_app.test_client()
    assert c.post("/api/intentions/try", json={"source": source, "destination": destination},
                  headers={"X-CSRFToken": csrf_token(c, "/login")}).status_code == 401
    assert sign_in(c, operator_token(services=(source,))).status_code == 303
    try:
        response = c.post("/api/intentions/try", json={"source": source, "destination": destination},
                          headers={"X-CSRFToken": csrf_token(c, "/intentions")})
    finally:
        for service in (f"{destination}-sidecar-proxy", destination):
            admin.call("PUT", f"/v1/agent/service/deregister/{service}")
    # Consul handed out the leaf certificate; nothing listened where the sidecar should be
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] is None and answer["allowed"] is False and "no answer" in answer["body"]


def test_the_mesh_page_names_each_instances_version():
    from frontend import catalog

    def entry(service_id, version=None):
        return {"Service": {"ID": service_id, "Port": 5003, "Address": "127.0.0.1",
                            "Meta": {"version": version} if version else {}},
                "Node": {"Node": "shop", "Address": "127.0.0.1"}, "Checks": []}
    assert catalog._instance(entry("products-v2", "v2"), [])["version"] == "v2"
    assert catalog._instance(entry("legacy"), [])["version"] is None
