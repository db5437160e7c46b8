import json
import socket
import time

import pytest
from flask import Flask, request
from opentelemetry import trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from shoptesting import demo_service, serve

from shopcommon import tracing
from shopcommon.logs import REQUEST_ID_HEADER
from shopcommon.tracing import ENDPOINT_ENV, current_trace_id
from shopcommon.upstream import Upstream

# never contacted: the exporter is replaced, or the test names its own collector
COLLECTOR = "http://127.0.0.1:9"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts as a new process would: no provider, ``requests`` not instrumented, the
    global provider unset; whatever it turns on is turned off again after it."""
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    monkeypatch.delenv(tracing.SLOW_ENV, raising=False)
    monkeypatch.setenv(tracing.RATIO_ENV, "1")  # every trace, unless a test samples
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    yield
    provider = tracing.tracer_provider()
    if provider is not None:
        provider.shutdown()
    if RequestsInstrumentor().is_instrumented_by_opentelemetry:
        RequestsInstrumentor().uninstrument()


@pytest.fixture
def exported(monkeypatch) -> InMemorySpanExporter:
    """The spans the process provider exports, kept in memory; ``.collectors`` are the base URLs it
    was made for."""
    exporter = InMemorySpanExporter()
    exporter.collectors = []

    def span_exporter(base_url):
        exporter.collectors.append(base_url)
        return exporter

    monkeypatch.setattr(tracing, "span_exporter", span_exporter)
    return exporter


def finished(exporter: InMemorySpanExporter) -> list:
    """Every span ended so far, once the batch processor has handed them over."""
    assert tracing.tracer_provider().force_flush(5_000)
    return list(exporter.get_finished_spans())


def make_app(service: str = "demo", endpoint: str | None = COLLECTOR, upstream: str | None = None,
             **config) -> Flask:
    """A service without a database that traces to ``endpoint``; ``POST /api/orders`` calls
    ``upstream``'s ``/echo`` the way services call each other (``Upstream``); ``GET /slow`` takes
    0.2 s."""
    app = demo_service(service, ({ENDPOINT_ENV: endpoint} if endpoint else {}) | config)

    @app.get("/slow")
    def slow():
        time.sleep(0.2)
        return {"slept": 0.2}

    @app.post("/api/orders")
    def create_order():
        echoed = Upstream("echo", upstream).call("GET", "/echo").json() if upstream else None
        return {"trace_id": current_trace_id(), "echoed": echoed}, 201

    return app


def echo_app() -> Flask:
    """The upstream: answers with the trace and request id headers it was sent."""
    app = Flask("upstream")

    @app.get("/echo")
    def echo():
        return {"traceparent": request.headers.get("traceparent"),
                "request_id": request.headers.get(REQUEST_ID_HEADER)}

    return app


def test_a_request_is_a_server_span_named_by_its_route(exported):
    client = make_app("orders").test_client()
    response = client.get("/api/orders/7", headers={REQUEST_ID_HEADER: "rid-7"})
    assert response.status_code == 200

    [span] = finished(exported)
    assert span.name == "GET /api/orders/<int:order_id>"
    assert span.kind is SpanKind.SERVER
    assert span.resource.attributes["service.name"] == "orders"
    assert span.attributes["http.route"] == "/api/orders/<int:order_id>"
    assert span.attributes["http.status_code"] == 200
    assert span.attributes[tracing.REQUEST_ID_ATTRIBUTE] == "rid-7"
    assert span.parent is None
    assert exported.collectors == [COLLECTOR]


def test_a_request_without_an_id_has_the_one_it_was_given_on_its_span(exported):
    response = make_app().test_client().get("/api/orders/1")
    [span] = finished(exported)
    assert span.attributes[tracing.REQUEST_ID_ATTRIBUTE] == response.headers[REQUEST_ID_HEADER]


def test_a_server_error_is_an_error_span_and_a_missing_page_is_not(exported):
    client = make_app().test_client()
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    spans = {span.name: span for span in finished(exported)}
    assert spans["GET /boom"].status.status_code is StatusCode.ERROR
    assert spans["GET /boom"].attributes["http.status_code"] == 500
    # no rule matched: the method alone, never the raw path, and the caller's mistake is no error
    assert spans["GET"].attributes["http.status_code"] == 404
    assert spans["GET"].status.status_code is StatusCode.UNSET


def test_the_callers_trace_is_continued(exported):
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    response = make_app().test_client().post("/api/orders", headers={"traceparent": traceparent})
    assert response.json["trace_id"] == TRACE_ID

    [span] = finished(exported)
    assert span.name == "POST /api/orders"
    assert trace.format_trace_id(span.context.trace_id) == TRACE_ID
    assert trace.format_span_id(span.parent.span_id) == PARENT_ID
    assert span.parent.is_remote


def test_calls_to_upstreams_carry_the_trace_on(exported):
    with serve(echo_app()) as upstream:
        caller = make_app(upstream=upstream).test_client()
        response = caller.post("/api/orders", headers={REQUEST_ID_HEADER: "rid-9"})
    assert response.status_code == 201
    trace_id, echoed = response.json["trace_id"], response.json["echoed"]
    version, sent_trace_id, sent_parent_id, flags = echoed["traceparent"].split("-")
    assert (version, sent_trace_id) == ("00", trace_id)
    assert int(flags, 16) & 1  # sampled
    assert echoed["request_id"] == "rid-9"  # both ids travel: the logs' and the trace's

    spans = finished(exported)
    [client] = [span for span in spans if span.kind is SpanKind.CLIENT]
    [server] = [span for span in spans if span.kind is SpanKind.SERVER]
    assert client.name == "GET"
    assert trace.format_span_id(client.context.span_id) == sent_parent_id
    assert client.parent.span_id == server.context.span_id
    assert client.attributes["http.status_code"] == 200
    assert trace.format_trace_id(server.context.trace_id) == trace_id
    assert server.attributes[tracing.REQUEST_ID_ATTRIBUTE] == "rid-9"


def test_requests_is_instrumented_once_for_every_app_in_the_process(exported):
    first, second = make_app("orders"), make_app("products")
    assert RequestsInstrumentor().is_instrumented_by_opentelemetry
    first.test_client().get("/api/orders/1")
    second.test_client().get("/api/orders/2")
    spans = finished(exported)
    assert len(spans) == 2
    # the process took the first service's name: one service per process, as gunicorn runs them
    assert {span.resource.attributes["service.name"] for span in spans} == {"orders"}
    assert exported.collectors == [COLLECTOR]


@pytest.mark.parametrize("path", ["/healthcheck", "/metrics", "/healthcheck?verbose=1"])
def test_health_and_metrics_are_not_traced(exported, path):
    client = make_app().test_client()
    assert client.get(path).status_code == 200
    assert client.get("/api/orders/1").status_code == 200
    assert [span.name for span in finished(exported)] == ["GET /api/orders/<int:order_id>"]


def test_the_environment_turns_it_on(exported, monkeypatch):
    monkeypatch.setenv(ENDPOINT_ENV, "http://collector:4318/")
    make_app(endpoint=None).test_client().get("/api/orders/1")
    assert len(finished(exported)) == 1
    assert exported.collectors == ["http://collector:4318"]


def test_off_without_an_endpoint(exported):
    before = trace.get_tracer_provider()
    with serve(echo_app()) as upstream:
        app = make_app(endpoint=None, upstream=upstream)
        traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
        response = app.test_client().post("/api/orders", headers={"traceparent": traceparent})
    assert response.status_code == 201
    assert response.json["trace_id"] is None  # the caller's trace is not continued...
    assert response.json["echoed"]["traceparent"] is None  # ...nor passed on
    assert tracing.tracer_provider() is None
    assert trace.get_tracer_provider() is before
    assert not RequestsInstrumentor().is_instrumented_by_opentelemetry
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert exported.collectors == []


def test_log_lines_carry_the_trace_id(exported, capsys):
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    headers = {"traceparent": traceparent, REQUEST_ID_HEADER: "r1"}
    make_app().test_client().get("/api/orders/1", headers=headers)
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["msg"] == "request"
    assert (line["request_id"], line["trace_id"]) == ("r1", TRACE_ID)
    assert list(line)[:6] == ["ts", "level", "service", "msg", "request_id", "trace_id"]


def test_log_lines_have_no_trace_id_when_tracing_is_off(capsys):
    make_app(endpoint=None).test_client().get("/api/orders/1", headers={REQUEST_ID_HEADER: "r1"})
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["request_id"] == "r1"
    assert "trace_id" not in line
    assert current_trace_id() is None


def test_a_collector_that_never_answers_costs_requests_nothing():
    # a socket that accepts connections (the kernel's backlog) but never reads or answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        client = make_app(endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}").test_client()
        started = time.perf_counter()
        for order_id in range(1, 51):
            assert client.get(f"/api/orders/{order_id}").status_code == 200
        assert time.perf_counter() - started < 2.0

        # the export the flush forces is given up after EXPORT_TIMEOUT, without an exception
        started = time.perf_counter()
        tracing.tracer_provider().force_flush(10_000)
        assert time.perf_counter() - started < tracing.EXPORT_TIMEOUT + 2.0


def test_spans_reach_the_collector_as_otlp_protobuf_over_http():
    received = []
    collector = Flask("collector")

    @collector.post("/v1/traces")
    def traces():
        received.append((request.content_type, ExportTraceServiceRequest.FromString(request.get_data())))
        return b"", 200, {"Content-Type": "application/x-protobuf"}

    with serve(collector) as base_url:
        client = make_app("users", endpoint=base_url).test_client()
        client.get("/api/orders/3", headers={REQUEST_ID_HEADER: "r3"})
        assert tracing.tracer_provider().force_flush(5_000)
    [(content_type, export)] = received
    assert content_type == "application/x-protobuf"
    [resource_spans] = export.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "users"
    [span] = [span for scope in resource_spans.scope_spans for span in scope.spans]
    assert span.name == "GET /api/orders/<int:order_id>"
    assert {a.key: a.value.string_value for a in span.attributes}[tracing.REQUEST_ID_ATTRIBUTE] == "r3"


def test_a_share_of_the_traces_that_start_here_is_sampled_by_trace_id():
    sampler = tracing.HeadSampler(0.25)
    step = (1 << 64) // 1000  # 1,000 trace ids spread evenly over the 64 bits the decision reads
    decisions = [sampler.should_sample(None, i * step + step // 2, "GET").decision for i in range(1000)]
    sampled = decisions.count(Decision.RECORD_AND_SAMPLE)
    assert sampled == 250
    # never dropped: recorded, so that a failed or slow one can still be kept
    assert set(decisions) == {Decision.RECORD_AND_SAMPLE, Decision.RECORD_ONLY}


@pytest.mark.parametrize("ratio", ["-0.1", "1.5", "often"])
def test_a_ratio_that_is_no_share_is_refused(exported, ratio):
    with pytest.raises(ValueError, match=tracing.RATIO_ENV):
        make_app(TRACE_SAMPLE_RATIO=ratio)


def test_unsampled_requests_are_not_exported_but_failed_and_slow_ones_are(exported):
    client = make_app(TRACE_SAMPLE_RATIO=0, TRACE_SLOW_MS=100).test_client()
    assert client.get("/api/orders/1").status_code == 200
    assert client.get("/boom").status_code == 500
    assert client.get("/slow").status_code == 200
    spans = finished(exported)
    assert sorted(span.name for span in spans) == ["GET /boom", "GET /slow"]
    assert all(span.context.trace_flags.sampled for span in spans)
    assert tracing.sample_ratio() == 0


def test_a_kept_trace_keeps_its_client_spans_too(exported):
    with serve(echo_app()) as upstream:
        app = make_app(upstream=upstream, TRACE_SAMPLE_RATIO=0, TRACE_SLOW_MS=0)  # 0 ms: every one is slow
        assert app.test_client().post("/api/orders").status_code == 201
    spans = finished(exported)
    assert sorted(span.kind.name for span in spans) == ["CLIENT", "SERVER"]
    assert len({span.context.trace_id for span in spans}) == 1


def test_the_callers_decision_is_kept_both_ways(exported):
    with serve(echo_app()) as upstream:
        never = make_app(upstream=upstream, TRACE_SAMPLE_RATIO=0).test_client()
        answer = never.post("/api/orders", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        assert answer.json["echoed"]["traceparent"].endswith("-01")  # sampled: passed on as sampled
        not_sampled = f"00-{'1' * 32}-{PARENT_ID}-00"
        answer = never.post("/api/orders", headers={"traceparent": not_sampled})
        assert answer.json["echoed"]["traceparent"].endswith("-00")
    assert {trace.format_trace_id(span.context.trace_id) for span in finished(exported)} == {TRACE_ID}
