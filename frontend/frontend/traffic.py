"""Traffic on each edge of the mesh, from Prometheus: what the mesh page draws over the topology.

An edge is a caller and the service it calls (an upstream in Consul's catalogue). Its numbers come
from the caller's Envoy, which Consul tags with both ends of every upstream stat
(``consul_source_service``, ``consul_destination_service``), over the last ``WINDOW``:

- requests per second, and the share of them answered 5xx;
- p99 latency, from Envoy's upstream request time histogram;
- calls the intentions refused: the callee's Envoy answers those 403 (its RBAC filter), and the
  caller's Envoy counts the 403s per upstream. The callee's own ``rbac_denied`` counter has every
  refusal, from any caller, and is shown per service.

A service that runs in several versions (its instances' ``meta.version``) gets a box per version
too, and a split edge from the service to each with its requests per second: what every caller's
Envoy sent to that version's subset (Consul tags it ``consul_destination_service_subset``).

``PROMETHEUS_URL`` says where Prometheus is (`make up` sets it); without it, or when Prometheus does
not answer, the page keeps the health view and says why.
"""

import requests
from flask import current_app

from frontend import catalog

WINDOW = "1m"
TIMEOUT = 2.0
EDGE = "consul_source_service, consul_destination_service"
QUERIES = {
    "rps": f'sum by ({EDGE}) (rate(envoy_cluster_upstream_rq_total{{consul_destination_service!=""}}[{WINDOW}]))',
    "errors": f'sum by ({EDGE}) (rate(envoy_cluster_upstream_rq_xx{{consul_destination_service!="",'
              f'envoy_response_code_class="5"}}[{WINDOW}]))',
    "p99": f'histogram_quantile(0.99, sum by (le, {EDGE}) '
           f'(rate(envoy_cluster_upstream_rq_time_bucket{{consul_destination_service!=""}}[{WINDOW}])))',
    "refused": f'sum by ({EDGE}) (increase(envoy_cluster_upstream_rq{{consul_destination_service!="",'
               f'envoy_response_code="403"}}[{WINDOW}]))',
}
DENIED = f'sum by (local_cluster) (increase(envoy_http_rbac_denied[{WINDOW}]))'
VERSIONS = (f'sum by (consul_destination_service, consul_destination_service_subset) '
            f'(rate(envoy_cluster_upstream_rq_total{{consul_destination_service_subset!=""}}[{WINDOW}]))')


class Unavailable(Exception):
    """Prometheus is not configured or does not answer; the message says which, for the page."""


def _query(base: str, expression: str) -> list[dict]:
    try:
        answer = requests.get(f"{base}/api/v1/query", params={"query": expression}, timeout=TIMEOUT)
        body = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise Unavailable(f"Prometheus at {base} does not answer ({type(exc).__name__})") from None
    if answer.status_code != 200 or body.get("status") != "success":
        raise Unavailable(f"Prometheus at {base} refused the query: {body.get('error') or answer.status_code}")
    return body["data"]["result"]


def _number(value: str) -> float | None:
    number = float(value)
    return None if number != number else number  # NaN: no requests in the window


def measure(edges: list[tuple[str, str]]) -> tuple[dict, dict]:
    """({(caller, callee): {rps, errors_pct, p99_ms, refused}}, {service: intentions' refusals}) for
    ``edges`` over the last minute; raises Unavailable."""
    base = (current_app.config.get("PROMETHEUS_URL") or "").rstrip("/")
    if not base:
        raise Unavailable("No Prometheus is configured (PROMETHEUS_URL)")
    found: dict[str, dict] = {}
    for name, expression in QUERIES.items():
        found[name] = {(r["metric"].get("consul_source_service"), r["metric"].get("consul_destination_service")):
                       _number(r["value"][1]) for r in _query(base, expression)}
    numbers = {}
    for edge in edges:
        rps = found["rps"].get(edge) or 0.0
        errors = found["errors"].get(edge) or 0.0
        p99 = found["p99"].get(edge)
        numbers[edge] = {"rps": round(rps, 2), "errors_pct": round(100 * errors / rps, 1) if rps else 0.0,
                         "p99_ms": None if p99 is None else round(p99, 1),  # Envoy's histogram is in ms
                         "refused": round(found["refused"].get(edge) or 0.0)}
    denied = {r["metric"].get("local_cluster"): round(_number(r["value"][1]) or 0) for r in _query(base, DENIED)}
    return numbers, denied


def version_rates() -> dict[tuple[str, str], float]:
    """{(service, version): requests per second its callers sent that version} over the last minute;
    raises Unavailable."""
    base = (current_app.config.get("PROMETHEUS_URL") or "").rstrip("/")
    if not base:
        raise Unavailable("No Prometheus is configured (PROMETHEUS_URL)")
    return {(r["metric"].get("consul_destination_service"), r["metric"].get("consul_destination_service_subset")):
            round(_number(r["value"][1]) or 0.0, 2) for r in _query(base, VERSIONS)}


def versions(services: list[dict]) -> dict[str, list[str]]:
    """{service: its versions, in the order its instances come} for each service registered in several."""
    found = {}
    for s in services:
        seen = list(dict.fromkeys(i["version"] for i in s["instances"] if i.get("version")))
        if len(seen) > 1:
            found[s["name"]] = seen
    return found


def version_boxes(services: list[dict], boxes: list[dict]) -> list[dict]:
    """A box per version of each service in several, in a column right of every service's box."""
    column = max((b["column"] for b in boxes), default=-1) + 1
    drawn = {b["name"] for b in boxes}
    found = []
    for name, seen in versions(services).items():
        if name not in drawn:
            continue
        instances = next(s["instances"] for s in services if s["name"] == name)
        for version in seen:
            checks = [{"Status": i["status"]} for i in instances if i.get("version") == version]
            found.append({"name": f"{name} {version}", "service": name, "version": version, "column": column,
                          "row": len(found), "status": catalog.worst(checks)})
    return found


def layout(services: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Boxes for the drawing, a column per call depth (callers left of what they call), and the edges."""
    meshed = [s for s in services if any(i.get("sidecar") for i in s["instances"])]  # not Consul itself
    calls = {s["name"]: sorted({u["destination"] for i in s["instances"] if i.get("sidecar")
                                for u in i["sidecar"]["upstreams"]}) for s in meshed}
    depth: dict[str, int] = {}

    def place(name: str, seen: frozenset = frozenset()) -> int:
        if name not in depth:
            depth[name] = 0 if name in seen else max(
                (place(c, seen | {name}) + 1 for c in calls if name in calls[c] and c not in seen), default=0)
        return depth[name]

    for name in calls:
        place(name)
    boxes, rows = [], {}
    for name in sorted(calls, key=lambda n: (depth[n], n)):
        column = depth[name]
        row = rows[column] = rows.get(column, -1) + 1
        status = next(s["status"] for s in meshed if s["name"] == name)
        boxes.append({"name": name, "column": column, "row": row, "status": status})
    edges = [(caller, callee) for caller in sorted(calls) for callee in calls[caller] if callee in calls]
    return boxes, edges
