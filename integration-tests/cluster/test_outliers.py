"""A service that reports another's failure stays in rotation.

frontend and orders relay: when a service behind them fails, they answer 503 (upstream_unavailable,
upstream_denied) and keep serving everything else. Their callers must not take them out for it. A
node cut showed why (test_lifecycle.py): with node-2 cut off, frontend-1 answered a few 503s for
orders inside the cut, the ingress ejected it (outlier detection: 5 errors in a row), and with
frontend-2 critical the ingress had nothing to route to for the ejection's 10 s. Every order
failed then ("no healthy upstream"): Consul turns Envoy's panic routing off, and Envoy counts an
instance Consul holds critical among the hosts "never more than half" is measured against.

Each case here makes that state on purpose, with nothing timed: one instance of the relaying
service frozen (`docker pause`) until Consul holds it critical, and the intention from the other
instance to its upstream turned to deny, so the survivor answers only 503s for that upstream. Then
a request that does not need the upstream must still be served, and no Envoy may have ejected the
survivor."""

from dataclasses import dataclass

import pytest

import crashload
from entries import put_entry, with_source_denied
from cluster_stack import (GATEWAYS, INGRESS, MESH, container, docker, envoy, healthy_endpoints, instances, session,
                           settled)
from meshctl.container import GATEWAY_ADMIN_PORT
from polling import eventually


@dataclass(frozen=True)
class Case:
    relay: str  # the service that answers 503 for its upstream's failure
    upstream: str  # the one it is denied
    refused: str  # "METHOD path": a request through the ingress that the relay answers 503 while denied
    served: str  # the path of a GET it serves all the same


CASES = [
    # the ingress in front of frontend: frontend denied orders still lists products
    Case("frontend", "orders", "GET /api/orders?user_id={user}", "/api/products?limit=5"),
    # the frontends' Envoys in front of orders: orders denied users still reads its own orders
    Case("orders", "users", "POST /api/orders", "/api/orders?user_id={user}"),
]


def callers(relay: str) -> list[tuple[str, int]]:
    """The Envoys that route to ``relay``: (container's service, admin port)."""
    if relay == "frontend":
        return [(g.name, GATEWAY_ADMIN_PORT) for g in GATEWAYS]
    return [(i.sidecar, i.definition.admin_port) for name, service in MESH.items()
            if relay in [u.service for u in service.upstreams] for i in instances(name)]


def ejections(caller: tuple[str, int], relay: str) -> int:
    """Ejections the caller's Envoy has enforced on instances of ``relay`` since it started."""
    stats = envoy(*caller, "/stats?filter=outlier_detection.ejections_enforced_total$")
    counts = [int(line.rsplit(": ", 1)[1]) for line in stats.splitlines() if line.startswith(f"cluster.{relay}.")]
    assert counts, f"{caller[0]}'s Envoy has no ejection count for {relay}:\n{stats}"
    return sum(counts)


@pytest.mark.parametrize("case", CASES, ids=[c.relay for c in CASES])
def test_a_service_that_reports_its_upstreams_failure_is_not_ejected(stack, consul_client, case):
    frozen, survivor = instances(case.relay)[-1], instances(case.relay)[0]
    shop = crashload.Shop(INGRESS)
    user, products = shop.setup(products=1, stock=100)
    product = next(iter(products))
    method, path = case.refused.split(" ", 1)
    watching = callers(case.relay)
    before = {caller: ejections(caller, case.relay) for caller in watching}
    intentions = consul_client.config.get("service-intentions", case.upstream)
    paused = docker("pause", container(frozen.name))
    assert paused.returncode == 0, paused.stderr
    try:
        eventually(f"every caller's Envoy to know one healthy {case.relay}, {frozen.name} frozen",
                   lambda: all(healthy_endpoints(*c).get(case.relay) == 1 for c in watching), timeout=60, interval=0.5)
        assert put_entry(consul_client, with_source_denied(intentions, case.relay))
        refusals = []
        with session() as http:
            def refused() -> bool:
                order = {"user_id": user, "items": [{"product_id": product, "quantity": 1}]}
                answer = http.request(method, INGRESS + path.format(user=user), timeout=30,
                                      json=order if method == "POST" else None)
                refusals.append((answer.status_code, answer.text[:200]))
                return (answer.status_code == 503 and answer.headers.get("Content-Type") == "application/json"
                        and answer.json()["error"]["code"] == "upstream_denied")
            # until every instance of the upstream holds the new intention: 6 refusals in a row
            eventually(f"{survivor.name} to answer 503 upstream_denied for {case.upstream}, 6 times in a row",
                       lambda: all(refused() for _ in range(6)), timeout=30, tails=lambda: str(refusals[-3:]))
            # 20 more: four times what ejects an instance (5 errors in a row), between two callers. A
            # success (201 for an order, 200 for a GET) is an instance of the upstream that does not
            # hold the deny yet; anything else fails
            served = 201 if method == "POST" else 200
            while sum(status == 503 for status, _ in refusals) < 26:
                assert len(refusals) < 80, refusals[-5:]
                if not refused():
                    assert refusals[-1][0] == served, refusals[-1]
            answer = http.get(INGRESS + case.served.format(user=user), timeout=30)
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        ejected = {caller[0]: ejections(caller, case.relay) - before[caller] for caller in watching}
        assert not any(ejected.values()), f"ejected {case.relay} instances, by Envoy: {ejected}"
        print(f"cluster {case.relay} denied {case.upstream}, the other instance frozen: "
              f"{sum(status == 503 for status, _ in refusals)} requests answered 503 by {survivor.name}, "
              f"GET {case.served.split('?')[0]} still 200, ejections {ejected}")
    finally:
        assert put_entry(consul_client, intentions)
        unpaused = docker("unpause", container(frozen.name))
        assert unpaused.returncode == 0, unpaused.stderr
        settled()  # the next test meets the whole cluster again, whatever this one found
