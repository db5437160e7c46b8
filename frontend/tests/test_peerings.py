"""The mesh page's peerings (docs/peering.md): each with its state and what it imports and exports,
against the real throwaway Consul (a peering token made there is a peering, PENDING until a peer
establishes it)."""

import re

import pytest


@pytest.fixture
def pending(admin, unique):
    admin.call("POST", "/v1/peering/token", {"PeerName": unique})
    yield unique
    admin.call("DELETE", f"/v1/peering/{unique}")


def test_the_mesh_page_lists_each_peering_with_its_state(consul_app, pending):
    html = consul_app.test_client().get("/mesh").get_data(as_text=True)
    assert 'id="peerings"' in html
    row = re.search(rf'<tr data-peer="{pending}">.*?</tr>', html, re.S)
    assert row, html
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    assert pending in cells[0] and "PENDING" in cells[1] and cells[2:] == ["-", "-"]


def test_a_token_that_may_not_read_peerings_still_gets_the_page(offline, throwaway_consul, tmp_path, pending):
    from frontend import create_app

    token = tmp_path / "token"
    before = 'service_prefix "" { policy = "read" intentions = "read" } node_prefix "" { policy = "read" }'
    token.write_text(throwaway_consul.token(rules=before, description="frontend before the peering") + "\n")
    app = create_app({**offline, "CONSUL_HTTP_ADDR": throwaway_consul.http.address, "CONSUL_TOKEN_FILE": str(token)})
    response = app.test_client().get("/mesh")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    problem = html.split('id="problem"')[1][:300]
    assert 'id="peerings"' not in html
    assert 'role="alert"' not in problem, problem
