"""An order's trace, from the trace store (Jaeger's query API): found by the order's id, which the
orders service puts on the span of the request that placed it (``shop.order_id``), and laid out as
a waterfall: one row per span, indented under its parent, a bar for when it ran.

``JAEGER_QUERY_URL`` says where the store is (`make up` sets it); without it, or when it does not
answer, the order's page says so instead of linking.
"""

import json

import requests
from flask import current_app

TIMEOUT = 3.0
LOOKBACK = "24h"  # the store keeps traces in memory, and only so many: older orders have none


class Unavailable(Exception):
    """No trace store is configured, or it does not answer; the message says which."""


def _get(path: str, params: dict | None = None) -> dict:
    base = (current_app.config.get("JAEGER_QUERY_URL") or "").rstrip("/")
    if not base:
        raise Unavailable("No trace store is configured (JAEGER_QUERY_URL)")
    try:
        answer = requests.get(f"{base}{path}", params=params, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise Unavailable(f"The trace store at {base} does not answer ({type(exc).__name__})") from None
    if answer.status_code == 404:
        return {"data": []}
    if answer.status_code != 200:
        raise Unavailable(f"The trace store at {base} answered {answer.status_code}")
    return answer.json()


def order_trace_id(order_id: int) -> str | None:
    """The id of the trace in which order ``order_id`` was placed, or None when the store has none."""
    found = _get("/api/traces", {"service": "orders", "tags": json.dumps({"shop.order_id": str(order_id)}),
                                 "lookback": LOOKBACK, "limit": 1})
    return found["data"][0]["traceID"] if found.get("data") else None


def waterfall(trace_id: str) -> dict | None:
    """{trace_id, duration_ms, spans: [{service, operation, depth, start_pct, width_pct, duration_ms,
    status}]} in start order, parents before children; None when the store has no such trace."""
    found = _get(f"/api/traces/{trace_id}").get("data") or []
    if not found:
        return None
    trace = found[0]
    processes = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    spans = {s["spanID"]: s for s in trace["spans"]}

    def parent(span: dict) -> str | None:
        return next((r["spanID"] for r in span.get("references") or []
                     if r["refType"] == "CHILD_OF" and r["spanID"] in spans), None)

    children: dict[str | None, list[dict]] = {}
    for span in spans.values():
        children.setdefault(parent(span), []).append(span)
    start = min(s["startTime"] for s in spans.values())
    end = max(s["startTime"] + s["duration"] for s in spans.values())
    total = max(end - start, 1)
    rows: list[dict] = []

    def visit(span: dict, depth: int) -> None:
        tags = {t["key"]: t["value"] for t in span.get("tags") or []}
        failed = tags.get("error") in (True, "true") or str(tags.get("http.status_code", tags.get(
            "http.response.status_code", ""))).startswith("5")
        rows.append({"service": processes.get(span["processID"], "?"), "operation": span["operationName"],
                     "depth": depth, "start_pct": round(100 * (span["startTime"] - start) / total, 2),
                     "width_pct": max(round(100 * span["duration"] / total, 2), 0.5),
                     "duration_ms": round(span["duration"] / 1000, 1), "failed": failed})
        for child in sorted(children.get(span["spanID"], []), key=lambda s: s["startTime"]):
            visit(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s["startTime"]):
        visit(root, 0)
    return {"trace_id": trace["traceID"], "duration_ms": round(total / 1000, 1), "spans": rows}
