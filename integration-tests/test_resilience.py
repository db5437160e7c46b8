"""The resilience config entries (consul-config/config-entries/resolver-*, router-*, callers-*) as
the callers' Envoys hold them: accepted, and each setting where it belongs."""

import json

import pytest
import requests

from conftest import MESH, envoy_stats

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
    clusters = {c["cluster"]["name"].split(".")[0]: c["cluster"] for c in dump(caller, "dynamic_active_clusters")
                if c["cluster"]["name"] != "local_app"}
    assert set(clusters) == set(CALLERS[caller]), clusters.keys()
    for name, cluster in clusters.items():
        outlier = cluster["outlier_detection"]
        if name in CALLERS:  # it relays its own upstreams' failures: never ejected (callers-frontend.hcl)
            assert outlier == {"max_ejection_percent": 0}, outlier
        else:
            assert outlier["consecutive_5xx"] == 5 and outlier["max_ejection_percent"] == 50, outlier
        limits = cluster["circuit_breakers"]["thresholds"][0]
        assert limits == {"max_connections": 512, "max_pending_requests": 512, "max_requests": 512}, limits
        assert cluster["connect_timeout"] == "2s"


@pytest.mark.parametrize("service", list(MESH))
def test_envoy_rejected_none_of_it(mesh, service):
    stats = envoy_stats(service)
    rejected = {k: v for k, v in stats.items() if k.endswith("update_rejected") and v}
    assert not rejected, json.dumps(rejected)
