"""The mesh page's versions: each split shown to everyone, moved by a signed-in operator with their own
Consul token (CSRF-protected, check-and-set, logged), against the real throwaway Consul; and the
drawing's box per version with its split edge."""

import re

import pytest

from frontend import traffic
from meshctl import entries

SPLITTER = "service-splitter"
READ_ALL = 'service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }'


@pytest.fixture
def canary(admin, unique):
    """A service ``unique`` registered in v1 and v2, each with a sidecar, with the resolver and the all-to-v1 splitter
    meshctl.entries derives for it; deregistered afterwards (the throwaway Consul serves every test)."""
    admin.call("PUT", "/v1/config", {"Kind": "service-defaults", "Name": unique, "Protocol": "http"})
    for body in (entries.resolver(unique, "2s", ["v1", "v2"]), entries.splitter(unique, ["v1", "v2"])):
        admin.call("PUT", "/v1/config", body)
    ids = [unique, f"{unique}-v2"]
    for service_id, version, port in ((ids[0], "v1", 5003), (ids[1], "v2", 5013)):
        admin.call("PUT", "/v1/agent/service/register", {
            "ID": service_id, "Name": unique, "Port": port, "Address": "127.0.0.1", "Meta": {"version": version},
            "Connect": {"SidecarService": {}}})  # in the mesh: drawn
    yield unique
    for service_id in ids:
        admin.call("PUT", f"/v1/agent/service/deregister/{service_id}")


def held(admin, service: str) -> str:
    """The split Consul holds, seen with the management token: 'v1=90 v2=10'."""
    entry = admin.config_entry(SPLITTER, service)
    return " ".join(f"{s['ServiceSubset']}={s['Weight']:g}" for s in entry["Splits"])


def form_of(client, service: str) -> dict:
    """The split form the mesh page shows for ``service``: its fields as the page fills them."""
    html = client.get("/mesh").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/mesh/split/{service}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def move(client, service: str, **weights: str) -> tuple[int, str]:
    """Send the page's form with ``weights`` (v1="90" …) over what the page filled in; (status, page)."""
    fields = form_of(client, service) | {f"weight.{v}": w for v, w in weights.items()}
    response = client.post(f"/mesh/split/{service}", data=fields)
    return response.status_code, (client.get(response.headers["Location"]) if response.status_code == 303
                                  else response).get_data(as_text=True)


def test_everyone_sees_the_split_and_only_an_operator_gets_the_form(consul_app, canary):
    html = consul_app.test_client().get("/mesh").get_data(as_text=True)
    assert f"{canary}: v1=100 v2=0" in html
    assert 'data-testid="read-only"' in html
    form = re.search(rf'data-split="{canary}".*?</form>', html, re.S).group(0)
    assert form.count(" disabled") == 2 and "<button" not in form


def test_a_signed_in_operator_moves_the_weights_and_the_move_is_logged(consul_app, canary, admin, operator_token,
                                                                       sign_in, shop_log):
    token = operator_token(rules=f'service "{canary}" {{ policy = "write" }} {READ_ALL}')
    c = consul_app.test_client()
    assert sign_in(c, token).status_code == 303
    status, page = move(c, canary, v1="90", v2="10")
    assert status == 303, page
    assert f"{canary}: v1=100 v2=0 → v1=90 v2=10" in page
    assert held(admin, canary) == "v1=90 v2=10"
    assert form_of(c, canary)["weight.v2"] == "10"
    logged = shop_log.fields("split changed")
    assert [(f["service"], f["before"], f["after"], f["operator"]) for f in logged] == [
        (canary, "v1=100 v2=0", "v1=90 v2=10", "Ann (ops)")]
    assert token not in shop_log.text()


def test_weights_moved_since_the_page_was_opened_are_not_overwritten(consul_app, canary, admin, operator_token,
                                                                     sign_in, shop_log):
    c = consul_app.test_client()
    sign_in(c, operator_token(rules=f'service "{canary}" {{ policy = "write" }} {READ_ALL}'))
    opened = form_of(c, canary)
    assert move(c, canary, v1="50", v2="50")[0] == 303  # another tab, meanwhile
    response = c.post(f"/mesh/split/{canary}", data=opened | {"weight.v1": "80", "weight.v2": "20"})
    assert response.status_code == 409
    assert "changed since you read it (it is now v1=50 v2=50)" in response.get_data(as_text=True)
    assert held(admin, canary) == "v1=50 v2=50"
    assert len(shop_log.fields("split changed")) == 1


@pytest.mark.parametrize("weights, status, said", [
    ({"v1": "90", "v2": "5"}, 400, "the weights add up to 95, not 100"),
    ({"v1": "-10", "v2": "110"}, 400, "write VERSION=PERCENT"),
    ({"v1": "0", "v2": "100", "v3": "0"}, 400, "there is no version v3"),
])
def test_a_split_that_cannot_be_is_shown_why_and_nothing_changes(consul_app, canary, admin, operator_token, sign_in,
                                                                 weights, status, said):
    c = consul_app.test_client()
    sign_in(c, operator_token(rules=f'service "{canary}" {{ policy = "write" }} {READ_ALL}'))
    got, page = move(c, canary, **weights)
    assert got == status and said in page, page
    assert held(admin, canary) == "v1=100 v2=0"


def test_a_token_that_may_not_write_the_service_is_refused_and_the_refusal_logged(consul_app, canary, admin,
                                                                                 operator_token, sign_in, shop_log):
    c = consul_app.test_client()
    sign_in(c, operator_token(rules=READ_ALL))
    status, page = move(c, canary, v1="50", v2="50")
    assert status == 403
    assert f"your token may not change {canary}&#39;s split: it needs service:write on {canary}" in page
    assert held(admin, canary) == "v1=100 v2=0"
    assert [f["service"] for f in shop_log.fields("split change refused")] == [canary]


def test_moving_the_weights_needs_a_signed_in_operator_and_the_csrf_token(consul_app, canary, admin, csrf_token):
    c = consul_app.test_client()
    fields = form_of(c, canary) | {"weight.v1": "0", "weight.v2": "100"}
    response = c.post(f"/mesh/split/{canary}", data=fields)
    assert response.status_code == 401
    assert "sign in with a Consul token to move the weights" in response.get_data(as_text=True)
    assert c.post(f"/mesh/split/{canary}", data={**fields, "csrf_token": ""}).status_code == 400
    assert held(admin, canary) == "v1=100 v2=0"


def test_the_drawing_has_a_box_per_version_and_a_split_edge_with_its_weight(consul_app, canary):
    answer = consul_app.test_client().get("/mesh/traffic.json").get_json()
    # (other tests' services, deregistered, may still be in the catalogue: the agent syncs it apart)
    boxes = [b for b in answer["services"] if b.get("service") == canary]
    assert [(b["name"], b["version"]) for b in boxes] == [(f"{canary} v1", "v1"), (f"{canary} v2", "v2")]
    assert all(b["column"] > max(o["column"] for o in answer["services"] if "version" not in o) for b in boxes)
    splits = [e for e in answer["edges"] if e.get("split") and e["from"] == canary]
    # without Prometheus (the offline app has none): the weights, no rates, and the page says why
    assert sorted((e["from"], e["to"], e["weight"], "rps" in e) for e in splits) == [
        (canary, f"{canary} v1", 100.0, False), (canary, f"{canary} v2", 0.0, False)]
    assert "No Prometheus is configured" in answer["problem"]


def test_version_boxes_stand_in_a_column_right_of_every_service():
    services = [
        {"name": "orders", "status": "passing", "instances": [
            {"version": "v1", "status": "passing", "sidecar": {"upstreams": [{"destination": "products"}]}}]},
        {"name": "products", "status": "critical", "instances": [
            {"version": "v1", "status": "passing", "sidecar": {"upstreams": []}},
            {"version": "v1", "status": "passing", "sidecar": {"upstreams": []}},
            {"version": "v2", "status": "critical", "sidecar": {"upstreams": []}}]},
    ]
    boxes, _ = traffic.layout(services)
    assert traffic.versions(services) == {"products": ["v1", "v2"]}
    assert [(b["name"], b["column"], b["row"], b["status"]) for b in traffic.version_boxes(services, boxes)] == [
        ("products v1", 2, 0, "passing"), ("products v2", 2, 1, "critical")]
