"""The cluster's shape, as Consul and Envoy see it: three voting servers with a leader, every instance
and sidecar passing on its own node, an order placed through the ingress, and the ingress spreading
requests over both frontends."""

import json
import uuid
from collections import Counter

import pytest

import ordertrace
from cluster_stack import (GATEWAY_SERVICE, GATEWAYS, INSTANCES, JAEGER_PORT, MESH, NODES, PROMETHEUS_PORT, SERVERS,
                           address, compose, container, docker, ingress_requests, instances, session)
from polling import eventually


def test_three_voting_servers_and_a_leader(consul_get, management_token):
    raft = consul_get("/v1/operator/raft/configuration")
    assert sorted(s["Node"] for s in raft["Servers"]) == sorted(SERVERS), raft
    assert all(s["Voter"] for s in raft["Servers"]), raft
    assert [s["Leader"] for s in raft["Servers"]].count(True) == 1, raft
    # the operator's command says the same, from inside another server
    peers = docker("exec", "-e", f"CONSUL_HTTP_TOKEN={management_token}", container(SERVERS[-1]),
                   "consul", "operator", "raft", "list-peers")
    assert peers.returncode == 0, peers.stderr
    rows = [line.split() for line in peers.stdout.splitlines()[1:]]
    assert sorted(r[0] for r in rows) == sorted(SERVERS) and [r[3] for r in rows].count("leader") == 1, peers.stdout
    assert all(r[4] == "true" for r in rows), peers.stdout


def test_servers_and_client_agents_are_members(consul_get):
    members = {m["Name"]: m for m in consul_get("/v1/agent/members")}
    assert set(members) == {*SERVERS, *NODES}, members.keys()
    for name, member in members.items():
        assert member["Status"] == 1, (name, member)  # alive
        assert (member["Tags"].get("role") == "consul") == (name in SERVERS), (name, member["Tags"])


def test_each_agent_holds_a_token_with_its_own_node_identity(consul_client):
    tokens = consul_client.acl.token.list()
    for node in (*SERVERS, *NODES):
        holding = [t for t in tokens if t.get("Description", "").startswith(f"agent-{node}:")]
        assert len(holding) == 1, (node, [t.get("Description") for t in tokens])
        assert [n["NodeName"] for n in holding[0]["NodeIdentities"]] == [node], holding[0]
        assert not holding[0].get("ServiceIdentities") and not holding[0].get("Policies"), holding[0]


@pytest.mark.parametrize("service", list(MESH))
def test_every_instance_and_its_sidecar_pass_on_their_own_node(consul_client, service):
    # one instance of each version per node (every version's sidecar has the service's sidecar name)
    expected = sorted((i.node, address(i.pod)) for i in instances(service))
    assert sorted(node for node, _ in expected) == sorted(NODES * len(MESH[service].versions))
    for name in (service, MESH[service].sidecar_id):
        _, entries = consul_client.health.service(name)
        seen = sorted((e["Node"]["Node"], e["Service"]["Address"]) for e in entries)
        assert seen == expected, (name, seen)
        failing = [(e["Node"]["Node"], c["Name"], c["Status"]) for e in entries for c in e["Checks"]
                   if c["Status"] != "passing"]
        assert not failing, (name, failing)


def test_an_ingress_gateway_is_registered_and_passing_on_every_node(consul_client):
    # `consul connect envoy -register` gives it a TCP check every 10 s, whose first run comes at a
    # random moment within the first 10 s: the gateway serves before Consul calls it passing
    expected = sorted((g.node, "ingress-gateway", address(g.name)) for g in GATEWAYS)
    assert [g.node for g in GATEWAYS] == list(NODES)
    eventually("a gateway to pass its check on every node", lambda: sorted(
        (e["Node"]["Node"], e["Service"]["Kind"], e["Service"]["Address"])
        for e in consul_client.health.service(GATEWAY_SERVICE, passing=True)[1]) == expected, timeout=30)


def test_an_order_through_the_ingress(ingress):
    with session() as http:
        user = http.post(f"{ingress}/api/users", timeout=30, json={
            "name": "Cluster Tester", "email": f"cluster-{uuid.uuid4().hex[:10]}@example.com"})
        assert user.status_code == 201, user.text
        product = http.post(f"{ingress}/api/products", timeout=30, json={
            "name": f"cluster-{uuid.uuid4().hex[:8]}", "price": "2.50", "stock": 5})
        assert product.status_code == 201, product.text
        order = http.post(f"{ingress}/api/orders", timeout=30, json={
            "user_id": user.json()["id"], "items": [{"product_id": product.json()["id"], "quantity": 2}]})
        assert order.status_code == 201, order.text
        assert order.json()["total"] == "5.00" and order.json()["status"] == "confirmed", order.json()
        # whichever instances answer next read the same databases
        for _ in range(4):
            again = http.get(f"{ingress}/api/orders/{order.json()['id']}", timeout=30)
            assert again.status_code == 200 and again.json()["status"] == "confirmed", again.text
            stock = http.get(f"{ingress}/api/products/{product.json()['id']}", timeout=30)
            assert stock.json()["stock"] == 3, stock.text
        page = http.get(f"{ingress}/orders", timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]


@pytest.mark.parametrize("gateway", GATEWAYS, ids=lambda g: g.name)
def test_each_ingress_gateway_spreads_requests_over_both_frontends(stack, gateway):
    frontends = {address(i.pod): i.name for i in instances("frontend")}
    before = ingress_requests(gateway.name)
    assert set(before) == set(frontends), (before, frontends)
    served = Counter()
    with session() as http:
        for _ in range(50):
            answer = http.get(f"{gateway.url}/api/products?limit=1", timeout=30)
            assert answer.ok, answer.text
            served[answer.headers["Served-By"]] += 1
    after = ingress_requests(gateway.name)
    reached = {frontends[a]: after[a] - before[a] for a in frontends}
    print(f"\n50 requests through {gateway.name} ({gateway.node}) reached: {reached}; Served-By: {dict(served)}")
    assert sum(reached.values()) == 50, reached
    assert all(n >= 10 for n in reached.values()), reached  # round robin: about 25 each
    # each answer names the frontend instance Envoy counted and a products instance of the cluster
    by_frontend = Counter(chain.split(", ")[0] for chain in served.elements())
    assert by_frontend == {f"frontend/v1/dc1/{name}": n for name, n in reached.items()}, (by_frontend, reached)
    # products' split is all to v1 (as the cluster starts): a v1 instance served each
    assert {chain.split(", ")[1] for chain in served} <= {f"products/v1/dc1/{i.name}" for i in instances("products")
                                                          if i.definition.version == "v1"}


def test_each_frontends_gate_forwards_to_its_own_nodes_agent():
    # from inside the app: the gate on its loopback, with the frontend's read-only token; every check
    # the agent behind it runs is on that agent's node
    ask = ("import json, urllib.request; token = open('/run/consul/token').read().strip(); "
           "r = urllib.request.Request('http://127.0.0.1:8500/v1/agent/checks', headers={'X-Consul-Token': token}); "
           "print(json.dumps(sorted({c['Node'] for c in json.load(urllib.request.urlopen(r, timeout=5)).values()})))")
    for i in instances("frontend"):
        result = docker("exec", container(i.name), "python3", "-c", ask)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [i.node], (i.name, result.stdout)


def test_every_instance_container_runs_the_image_of_its_service():
    for i in INSTANCES:
        env = docker("inspect", "-f", "{{json .Config.Env}}", container(i.name)).stdout
        assert f'"SERVICE={i.id}"' in env, (i.name, env)


def test_the_cluster_files_ingress_ports_are_the_gateway_config_entrys():
    import hcl

    entry = hcl.loads((MESH["frontend"].file.parents[1] / "config-entries" / "ingress-gateway.hcl").read_text())
    config = json.loads(compose("config", "--format", "json").stdout)
    for gateway in GATEWAYS:
        published = [p["target"] for p in config["services"][gateway.name]["ports"]]
        assert published == [entry["Listeners"][0]["Port"]], (gateway, published, entry["Listeners"])


def test_prometheus_scrapes_every_instance_and_envoy_on_both_nodes(stack):
    wanted = {(job, i.service, i.node): "up" for i in INSTANCES for job in ("apps", "envoys")}

    def targets():
        with session() as http:
            active = http.get(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return {(t["labels"]["job"], t["labels"].get("service"), t["labels"].get("node")): t["health"] for t in active}
    eventually("every instance's app and Envoy to be a target, and up", lambda: targets() == wanted, timeout=90,
               interval=1)


def test_an_order_through_the_ingress_is_one_trace(ingress):
    with session() as http:
        user = http.post(f"{ingress}/api/users", timeout=15,
                         json={"name": "Traced", "email": f"t-{uuid.uuid4().hex[:8]}@example.com"}).json()
        product = http.post(f"{ingress}/api/products", timeout=15,
                            json={"name": f"t-{uuid.uuid4().hex[:8]}", "price": "1.00", "stock": 5}).json()
        placed = http.post(f"{ingress}/api/orders", timeout=15, headers=ordertrace.sampled(),
                           json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
        assert placed.status_code == 201, placed.text
    everyone = set(MESH) | {s.sidecar_id for s in MESH.values()}
    trace = eventually("the order's trace to hold every app and sidecar",
                       ordertrace.complete(f"http://127.0.0.1:{JAEGER_PORT}", placed.json()["id"], everyone),
                       timeout=30, interval=1)
    assert {s["traceID"] for s in trace["spans"]} == {trace["traceID"]}


def test_the_frontends_metrics_are_not_public_through_the_ingress(ingress):
    with session() as http:
        assert http.get(f"{ingress}/metrics", timeout=10).status_code == 403  # its intention's L7 deny
        assert http.get(f"{ingress}/api/products", timeout=10).status_code == 200
    with session() as http:  # Prometheus still reads them, through each frontend's expose listener
        active = http.get(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert all(t["health"] == "up" for t in active if t["labels"].get("service") == "frontend"), active
