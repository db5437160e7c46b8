"""An intention's deny holds however the path is spelled (spellings.py: CVE-2024-10005's class).

Each denied path is sent in every spelling straight to the destination's sidecar, over mTLS with the
source's own certificate, as that source's Envoy (or an attacker holding its identity) would: a
spelling that reads as the denied path to any reader is refused (403 by the RBAC filter, 400 by Envoy
or the app); no spelling is answered 2xx. The same spellings sent to an app's own port are refused by
the app (400), and every sidecar's public listener carries the normalization (Consul patched:
consul-config/patches/)."""

import json
import uuid

import pytest
import requests

import spellings
from conftest import MESH, dump
from frontend import meshtls
from shopcommon.paths import problem, raw_path


@pytest.fixture(scope="module")
def identities(consul_client) -> dict[str, meshtls.Identity]:
    roots = consul_client.agent.connect.ca.roots()
    return {name: meshtls.Identity.from_consul(roots, consul_client.agent.connect.ca.leaf(name))
            for name in ("frontend", "orders")}


def as_(identities, source: str, destination: str, method: str, path: str, body: dict | None = None):
    return spellings.request("127.0.0.1", MESH[destination].sidecar_port, method, path, body=body,
                             context=identities[source].context())


@pytest.fixture(scope="module")
def reservation(mesh, identities) -> str:
    """A reservation orders made (the one caller allowed to): what a bypass would read or release."""
    status, body = spellings.request("127.0.0.1", MESH["frontend"].port, "POST", "/api/products",
                                     body={"name": f"spelled-{uuid.uuid4().hex[:8]}", "price": "1.00", "stock": 5})
    assert status == 201, body
    product = json.loads(body)
    rid = f"spelled-{uuid.uuid4().hex[:12]}"
    status, body = as_(identities, "orders", "products", "PUT", f"/products/reservations/{rid}",
                       {"items": [{"product_id": product["id"], "quantity": 1}]})
    assert status == 201, body
    return rid


@pytest.mark.parametrize("source, destination, method, denied, reads_as", spellings.DENIED)
def test_no_spelling_of_a_denied_path_gets_through(identities, reservation, source, destination, method, denied,
                                                   reads_as):
    path = denied.format(rid=reservation)
    status, body = as_(identities, source, destination, method, path)
    assert status == 403 and "RBAC" in body, (status, body)  # the deny itself
    rows = [(method, spelled, *as_(identities, source, destination, method, spelled))
            for spelled in spellings.spellings(path)]
    print(f"{source} -> {destination} {method} {path}:\n{spellings.table(rows)}")
    failed = spellings.failures(rows, reads_as)
    assert not failed, spellings.table(failed)


def test_what_the_intentions_allow_still_works(identities, reservation):
    allowed = [("orders", "products", "GET", f"/products/reservations/{reservation}"),
               ("frontend", "products", "GET", "/products"), ("frontend", "orders", "GET", "/api/orders"),
               ("frontend", "users", "GET", "/api/users")]
    for source, destination, method, path in allowed:
        status, body = as_(identities, source, destination, method, path)
        assert status == 200, (source, destination, path, status, body)
    # and no spelled DELETE released the reservation
    status, body = as_(identities, "orders", "products", "GET", f"/products/reservations/{reservation}")
    assert status == 200 and json.loads(body)["status"] == "reserved", body


@pytest.mark.parametrize("service", list(MESH))
def test_the_app_itself_refuses_every_spelling_not_in_normal_form(mesh, service):
    # past the sidecar (a misconfigured or bypassed one): the app's own line
    path = {"products": "/products/reservations/x", "users": "/api/users/1", "orders": "/api/orders/1",
            "frontend": "/api/products"}[service]
    rows = [("GET", spelled, *spellings.request("127.0.0.1", MESH[service].port, "GET", spelled))
            for spelled in spellings.spellings(path) if problem(raw_path({"RAW_URI": spelled}))]
    assert len(rows) >= 30, spellings.table(rows)
    # gunicorn hands the app the request line as sent, so every one of them is refused: by the app (the
    # envelope, or the frontend's page for a person), or by gunicorn itself when the target does not
    # start with a slash
    said = ("path_not_normal", "Not a plain address", "Invalid Request Line")
    missed = [row for row in rows if not (row[2] == 400 and any(words in row[3] for words in said))]
    assert not missed, spellings.table(missed)


def test_a_header_name_with_an_underscore_is_refused_at_the_sidecar(identities):
    assert as_(identities, "frontend", "products", "GET", "/products")[0] == 200
    status, body = spellings.request("127.0.0.1", MESH["products"].sidecar_port, "GET", "/products",
                                     headers={"Idempotency_Key": "x"}, context=identities["frontend"].context())
    assert status == 400, (status, body)


@pytest.mark.parametrize("service", list(MESH))
def test_every_public_listener_normalizes_before_its_rbac_filter(mesh, service):
    config = requests.get(f"http://127.0.0.1:{MESH[service].admin_port}/config_dump?resource=dynamic_listeners",
                          timeout=5).json()
    managers = spellings.managers(config, "public_listener")
    assert managers, dump(config)
    for manager in managers:
        assert spellings.normalization(manager) == {**spellings.NORMALIZING,
                                                    "headers_with_underscores_action": "REJECT_REQUEST"}
        assert manager["http_filters"][0]["name"] == "envoy.filters.http.rbac"
