"""The mesh page's traffic and an order's trace, against stand-ins for Prometheus' and Jaeger's HTTP
APIs answering what those answer (the integration suite runs the real ones): numbers per edge, the
drawing's layout, the waterfall, and what the pages say when either store is missing."""

import json
from contextlib import ExitStack

import pytest
from flask import Flask, jsonify, request

from frontend import traces, traffic
from shoptesting import serve

EDGE = {"consul_source_service": "orders", "consul_destination_service": "products"}
SERVICES = [
    {"name": "frontend", "status": "passing", "instances": [{"sidecar": {"upstreams": [
        {"destination": "orders"}, {"destination": "products"}]}}]},
    {"name": "orders", "status": "passing", "instances": [{"sidecar": {"upstreams": [{"destination": "products"}]}}]},
    {"name": "products", "status": "critical", "instances": [{"sidecar": {"upstreams": []}}]},
    {"name": "consul", "status": "passing", "instances": [{"sidecar": None}]},
]
TRACE = {"traceID": "ab" * 16, "processes": {"p1": {"serviceName": "frontend"}, "p2": {"serviceName": "orders"}},
         "spans": [
             {"spanID": "2", "processID": "p2", "operationName": "POST /api/orders", "startTime": 1_000_500,
              "duration": 400, "references": [{"refType": "CHILD_OF", "spanID": "1"}],
              "tags": [{"key": "http.response.status_code", "value": 503}]},
             {"spanID": "1", "processID": "p1", "operationName": "POST /api/orders", "startTime": 1_000_000,
              "duration": 1_000, "references": [], "tags": []},
         ]}


def stand_in(answer) -> Flask:
    """An app whose every GET answers ``answer(path, query)`` -> (status, JSON body)."""
    app = Flask("stand-in")

    @app.get("/<path:path>")
    def get(path):
        status, body = answer(f"/{path}", request.args.to_dict())
        return jsonify(body), status
    return app


@pytest.fixture
def served():
    """``served(answer)``: a stand-in on a loopback port, its base URL; stopped after the test."""
    with ExitStack() as stack:
        yield lambda answer: stack.enter_context(serve(stand_in(answer)))


def app_with(**config) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    return app


def prometheus(path, query):
    expression = query["query"]
    value = {"rps": "4", "errors": "1", "p99": "12.5", "refused": "3"}
    for name, text in traffic.QUERIES.items():
        if expression == text:
            return 200, {"status": "success", "data": {"result": [{"metric": EDGE, "value": [0, value[name]]}]}}
    if expression == traffic.DENIED:
        return 200, {"status": "success", "data": {"result": [{"metric": {"local_cluster": "products"}, "value": [0, "7"]}]}}
    return 400, {"status": "error", "error": f"unexpected query {expression}"}


def test_the_drawing_puts_callers_left_of_what_they_call_and_leaves_consul_out():
    boxes, edges = traffic.layout(SERVICES)
    assert [(b["name"], b["column"], b["row"]) for b in boxes] == [("frontend", 0, 0), ("orders", 1, 0), ("products", 2, 0)]
    assert edges == [("frontend", "orders"), ("frontend", "products"), ("orders", "products")]
    assert boxes[2]["status"] == "critical"


def test_each_edge_gets_its_rate_errors_p99_and_refusals(served):
    with app_with(PROMETHEUS_URL=served(prometheus)).app_context():
        numbers, denied = traffic.measure([("orders", "products"), ("frontend", "orders")])
    assert numbers[("orders", "products")] == {"rps": 4.0, "errors_pct": 25.0, "p99_ms": 12.5, "refused": 3}
    assert numbers[("frontend", "orders")] == {"rps": 0.0, "errors_pct": 0.0, "p99_ms": None, "refused": 0}
    assert denied == {"products": 7}


@pytest.mark.parametrize("url, said", [(None, "No Prometheus is configured"), ("http://127.0.0.1:9", "does not answer")])
def test_without_prometheus_the_traffic_says_why(url, said):
    with app_with(PROMETHEUS_URL=url).app_context(), pytest.raises(traffic.Unavailable, match=said):
        traffic.measure([("orders", "products")])


def jaeger(path, query):
    if path == "/api/traces" and json.loads(query["tags"]) == {"shop.order_id": "42"} and query["service"] == "orders":
        return 200, {"data": [{"traceID": TRACE["traceID"]}]}
    if path == "/api/traces":
        return 200, {"data": []}
    if path == f"/api/traces/{TRACE['traceID']}":
        return 200, {"data": [TRACE]}
    return 404, {"data": None, "errors": [{"code": 404, "msg": "trace not found"}]}


def test_an_orders_trace_is_found_by_its_id_and_laid_out_parents_first(served):
    with app_with(JAEGER_QUERY_URL=served(jaeger)).app_context():
        assert traces.order_trace_id(42) == TRACE["traceID"]
        assert traces.order_trace_id(43) is None
        drawn = traces.waterfall(TRACE["traceID"])
        assert traces.waterfall("cd" * 16) is None
    assert drawn["duration_ms"] == 1.0
    assert [(s["service"], s["depth"], s["start_pct"], s["width_pct"], s["failed"]) for s in drawn["spans"]] == [
        ("frontend", 0, 0.0, 100.0, False), ("orders", 1, 50.0, 40.0, True)]


def test_without_a_trace_store_the_order_page_says_why():
    with app_with(JAEGER_QUERY_URL=None).app_context(), pytest.raises(traces.Unavailable, match="No trace store"):
        traces.order_trace_id(42)


@pytest.mark.parametrize("ratio, said", [
    (0.1, "only 10% of requests are traced (TRACE_SAMPLE_RATIO), and every failed or slow one"),
    (1.0, None), (None, None)])
def test_an_order_without_a_trace_says_whether_it_was_probably_not_sampled(served, offline, monkeypatch, ratio, said):
    from frontend import create_app
    from shopcommon import tracing

    monkeypatch.setattr(tracing, "sample_ratio", lambda: ratio)
    jaeger = served(lambda path, query: (200, {"data": []}))
    page = create_app({**offline, "JAEGER_QUERY_URL": jaeger}).test_client().get("/orders/42/trace")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The trace store has no trace of order 42" in text
    assert (said in text) if said else ("not sampled" not in text)
