"""An order's trace as the trace store holds it (Jaeger's query API), for the three suites: found by
the ``shop.order_id`` the orders service puts on the span that placed it.

The mesh traces a share of the requests that start a trace (``TRACE_SAMPLE_RATIO``, 0.1 by default)
and keeps the callers' decision: a test that wants its order's trace sends a sampled ``traceparent``
(``sampled()``), as an operator does to trace one request."""

import json
import secrets

import requests


def complete(jaeger: str, order_id: int, everyone: set[str]):
    """A probe for ``polling.eventually``: the order's whole trace once it holds a span of every
    service in ``everyone`` (each app and sidecar exports in batches), else None."""
    def probe():
        with requests.Session() as http:
            http.trust_env = False
            found = http.get(f"{jaeger}/api/traces", timeout=10, params={
                "service": "orders", "tags": json.dumps({"shop.order_id": str(order_id)}),
                "lookback": "1h", "limit": 1}).json()["data"]
            if not found:
                return None
            trace = http.get(f"{jaeger}/api/traces/{found[0]['traceID']}", timeout=10).json()["data"][0]
        return trace if {p["serviceName"] for p in trace["processes"].values()} >= everyone else None
    return probe


def sampled() -> dict[str, str]:
    """Headers that make a request the start of a sampled trace: a W3C ``traceparent`` with a fresh
    trace id, a span id of the caller's own, and the sampled flag."""
    return {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"}


def caller_span(headers: dict[str, str]) -> str:
    """The caller's span id in ``sampled()``'s headers: the parent of the trace's first span."""
    return headers["traceparent"].split("-")[2]
