"""The resilience config entries (resolvers, routers and the callers' service-defaults, derived from
consul-config/resilience.hcl by meshctl.entries) as Consul and the callers' Envoys hold them:
accepted, and each setting where it belongs."""

import json

import pytest
import requests

from conftest import INSTANCES, MESH, REPO, envoy_stats
from meshctl import envoy_admin

# what calls to each service are retried, on every caller's Envoy alike (a router is per destination)
RETRIED = {"users": ["GET"], "products": ["GET", "PUT/DELETE /products/reservations/"],
           "orders": ["GET", "POST /api/orders with Idempotency-Key"]}
CALLERS = {name: [u.service for u in service.upstreams] for name, service in MESH.items() if service.upstreams}
TIMEOUTS = {"users": "5s", "products": "5s", "orders": "12s"}


def dump(service: str, resource: str) -> list[dict]:
    url = f"http://127.0.0.1:{MESH[service].admin_port}/config_dump?resource={resource}"
    return requests.get(url, timeout=5).json()["configs"]


def routes(caller: str) -> dict[str, list[dict]]:
    return {c["route_config"]["name"]: [r for vh in c["route_config"]["virtual_hosts"] for r in vh["routes"]]
            for c in dump(caller, "dynamic_route_configs")}


def describe(route: dict) -> str:
    match = route["match"]
    headers = {h["name"]: h for h in match.get("headers", [])}
    method = headers.get(":method", {}).get("safe_regex_match", {}).get("regex", "any")
    what = f"{method} {match.get('prefix') or match.get('path')}"
    return what + (" with Idempotency-Key" if "Idempotency-Key" in headers else "")


@pytest.mark.parametrize("caller", list(CALLERS))
def test_retries_only_where_a_repeat_is_harmless(mesh, caller):
    seen = routes(caller)
    assert set(seen) == set(CALLERS[caller])
    for upstream, expected in RETRIED.items():
        if upstream not in seen:
            continue
        retried = [describe(r) for r in seen[upstream] if r["route"].get("retry_policy")]
        assert len(retried) == len(expected), (upstream, retried)
        for route in seen[upstream]:
            policy = route["route"].get("retry_policy")
            if policy:
                assert policy["num_retries"] == 2 and policy["retriable_status_codes"] == [503], policy
                assert set(policy["retry_on"].split(",")) == {"connect-failure", "reset", "retriable-status-codes"}
                text = describe(route)
                assert text.startswith("GET|HEAD") or "reservations" in text or "Idempotency-Key" in text, text
        # the catch-all (POST of a new user, product or an order without a key) is never retried
        assert not seen[upstream][-2]["route"].get("retry_policy"), describe(seen[upstream][-2])


@pytest.mark.parametrize("caller", list(CALLERS))
def test_every_route_has_its_services_time_limit(mesh, caller):
    for upstream, rs in routes(caller).items():
        limited = [r["route"].get("timeout") for r in rs[:-1]]  # the last is Consul's own default route
        assert limited and set(limited) == {TIMEOUTS[upstream]}, (upstream, limited)


@pytest.mark.parametrize("caller", list(CALLERS))
def test_outlier_detection_and_circuit_breakers_on_every_upstream(mesh, caller):
    # a service in several versions: a cluster per version's subset, each alike
    clusters = [(envoy_admin.upstream_of(c["cluster"]["name"]), c["cluster"])
                for c in dump(caller, "dynamic_active_clusters") if c["cluster"]["name"] != "local_app"]
    assert {name for name, _ in clusters} == set(CALLERS[caller]), [c["name"] for _, c in clusters]
    for name, cluster in clusters:
        outlier = cluster["outlier_detection"]
        if name in CALLERS:  # it relays its own upstreams' failures: never ejected (resilience.hcl)
            assert outlier == {"max_ejection_percent": 0}, outlier
        else:
            assert outlier["consecutive_5xx"] == 5 and outlier["max_ejection_percent"] == 50, outlier
        limits = cluster["circuit_breakers"]["thresholds"][0]
        assert limits == {"max_connections": 512, "max_pending_requests": 512, "max_requests": 512}, limits
        assert cluster["connect_timeout"] == "2s"


@pytest.mark.parametrize("service", INSTANCES, ids=str)
def test_envoy_rejected_none_of_it(mesh, service):
    stats = envoy_stats(service)
    rejected = {k: v for k, v in stats.items() if k.endswith("update_rejected") and v}
    assert not rejected, json.dumps(rejected)


KINDS = ("proxy-defaults", "service-defaults", "service-resolver", "service-router", "service-splitter",
         "service-intentions", "ingress-gateway", "mesh")


def holds(ours, theirs) -> bool:
    """Whether Consul's reading of an entry holds every field we wrote, as we wrote it (Consul adds
    empty fields of its own, and gives some durations back in nanoseconds)."""
    if isinstance(ours, dict):
        return isinstance(theirs, dict) and all(holds(v, theirs.get(k)) for k, v in ours.items())
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(holds, ours, theirs))
    if isinstance(ours, str) and isinstance(theirs, int) and ours.endswith("s") and ours[:-1].isdigit():
        return int(ours[:-1]) * 10**9 == theirs
    return ours == theirs


def test_consul_holds_every_entry_meshctl_writes_and_no_other(mesh, consul_client):
    from meshctl import entries

    ours = {e.key: e for e in entries.load(REPO / "consul-config")}
    # the mesh entry has no Name (entries.UNNAMED)
    held = {f"{e['Kind']}/{e.get('Name') or entries.UNNAMED[kind]}": e
            for kind in KINDS for e in consul_client.config.list(kind)}
    assert set(held) == set(ours), (set(held) ^ set(ours))
    # those meshctl derived or completed (the others Consul read from their own files)
    different = {key: held[key] for key, entry in ours.items() if not entry.file and not holds(entry.body, held[key])}
    assert not different, json.dumps(different, indent=1)
