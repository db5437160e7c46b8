"""Traces on the real mesh (local mode): one order placed through the frontend is one trace in the
Jaeger `make up` starts, with spans from every app and every sidecar on its way, each hop the child
of the one that made it."""

import pytest

import ordertrace
from conftest import FRONTEND, MESH, eventually
from meshctl import traces

APPS = set(MESH)
SIDECARS = {service.sidecar_id for service in MESH.values()}


@pytest.fixture(scope="module")
def jaeger(mesh):
    eventually("Jaeger to answer (make up starts it once built)", traces.ready, timeout=60,
               logs=("jaeger", "jaeger-build"))
    return traces.QUERY


def test_an_orders_trace_has_a_span_from_every_app_and_sidecar_and_one_trace_id(jaeger, http, make_user,
                                                                                make_product):
    user, product = make_user(), make_product(stock=10)
    sent = ordertrace.sampled()
    placed = http.post(f"{FRONTEND}/api/orders", timeout=15, headers=sent,
                       json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
    assert placed.status_code == 201, placed.text
    trace = eventually("the order's trace to hold every app and sidecar",
                       ordertrace.complete(traces.QUERY, placed.json()["id"], APPS | SIDECARS),
                       timeout=30, interval=1, logs=("jaeger",))
    assert {s["traceID"] for s in trace["spans"]} == {trace["traceID"]}
    spans = {s["spanID"]: s for s in trace["spans"]}
    service = {s["spanID"]: trace["processes"][s["processID"]]["serviceName"] for s in trace["spans"]}
    parents = {sid: next((r["spanID"] for r in s.get("references") or [] if r["refType"] == "CHILD_OF"), None)
               for sid, s in spans.items()}
    # the trace is the caller's: its first span, the frontend's, is the child of the span it sent
    roots = [sid for sid, parent in parents.items() if parent not in spans]
    assert [service[r] for r in roots] == ["frontend"], [service[r] for r in roots]
    assert parents[roots[0]] == ordertrace.caller_span(sent)
    # each app's server span is a child of its own sidecar's (the request came in through it)
    for app in APPS - {"frontend"}:  # browsers reach the frontend directly in local mode
        inbound = [sid for sid, name in service.items() if name == app and parents[sid]
                   and service[parents[sid]] == f"{app}-sidecar-proxy"]
        assert inbound, f"no span of {app} under its sidecar's"


def test_the_orders_page_links_to_its_trace_and_draws_it(jaeger, http, make_user, make_product):
    user, product = make_user(), make_product(stock=10)
    placed = http.post(f"{FRONTEND}/api/orders", timeout=15, headers=ordertrace.sampled(),
                       json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 1}]})
    order_id = placed.json()["id"]
    eventually("the order's trace", ordertrace.complete(traces.QUERY, order_id, APPS | SIDECARS), timeout=30,
               interval=1)
    page = http.get(f"{FRONTEND}/orders/{order_id}", timeout=10).text
    assert f'href="/orders/{order_id}/trace"' in page
    drawn = http.get(f"{FRONTEND}/orders/{order_id}/trace", timeout=10)
    assert drawn.status_code == 200
    for name in APPS | SIDECARS:
        assert f'data-service="{name}"' in drawn.text, name
