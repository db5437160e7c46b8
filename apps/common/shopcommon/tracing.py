"""Request traces, sent to an OpenTelemetry collector (OTLP over HTTP/protobuf) when one is named.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (``http://127.0.0.1:4318``; a test may set it in
the app's config instead): tests and containers without a collector run exactly as before. When it
is on:

- every request gets a server span named by the Flask rule that matched (``POST /api/orders``),
  never the raw path (the method alone when no rule matched), with its status and the request id
  the logs carry (``shop.request_id``); each log line of a traced request carries its ``trace_id``;
  ``/healthcheck`` and ``/metrics`` get none, they are polled too often to be worth one;
- a caller's W3C ``traceparent`` is continued, and every call made with ``requests`` (the upstream
  clients, ``upstream.py``) gets a client span and passes ``traceparent`` on, so one order is one
  trace across the frontend, orders, products and users;
- spans leave in the background (``BatchSpanProcessor``), each export given up after
  ``EXPORT_TIMEOUT`` seconds: a collector that is down or slow costs requests nothing, and its
  failures are the SDK's to log, never the request's to raise.

**One provider per process.** A provider and the ``requests`` instrumentation are process-wide, so
the first app that traces makes them and names the process after its service (``service.name``); a
later app in the same process (tests build many) shares them and gets only its own Flask
instrumentation. gunicorn creates the app in each worker (no ``--preload``), so each worker has its
own provider and export thread.
"""

import os

import requests
from flask import Flask, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_PATH = "/v1/traces"
EXPORT_TIMEOUT = 2.0
REQUEST_ID_ATTRIBUTE = "shop.request_id"
# regular expressions over the full URL; one pattern, as the instrumentation splits a list on commas
EXCLUDED_URLS = r"^https?://[^/]+/(healthcheck|metrics)/?(\?.*)?$"

_provider: TracerProvider | None = None


def endpoint(app: Flask) -> str | None:
    """The collector's base URL (``http://127.0.0.1:4318``), or None: tracing is off."""
    value = app.config.get(ENDPOINT_ENV) or os.environ.get(ENDPOINT_ENV, "")
    return value.strip().rstrip("/") or None


def span_exporter(base_url: str) -> SpanExporter:
    """The OTLP/HTTP exporter for the collector at ``base_url``."""
    session = requests.Session()
    session.trust_env = False  # never route loopback collector traffic through a proxy
    return OTLPSpanExporter(endpoint=base_url + TRACES_PATH, timeout=EXPORT_TIMEOUT, session=session)


def tracer_provider() -> TracerProvider | None:
    """This process's provider; None while no app has turned tracing on."""
    return _provider


def process_provider(service: str, base_url: str) -> TracerProvider:
    """This process's provider, made (and ``requests`` instrumented) by the first call."""
    global _provider
    if _provider is None:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
        provider.add_span_processor(BatchSpanProcessor(span_exporter(base_url)))
        # global too, so a span started anywhere with trace.get_tracer() lands in the same trace
        trace.set_tracer_provider(provider)
        _provider = provider
    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_provider)
    return _provider


def init_tracing(app: Flask, service: str) -> None:
    """Trace ``app``'s requests and its calls to upstreams when a collector is named; else nothing.

    Call it before ``init_logging``: the request id is put on the span its hook has started.
    """
    base_url = endpoint(app)
    if base_url is None:
        return
    provider = process_provider(service, base_url)
    # enable_commenter=False: it attaches a context per request that is never detached, for SQL
    # comments no one here reads
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS,
                                     request_hook=name_unmatched, enable_commenter=False)


def name_unmatched(span: trace.Span, environ: dict) -> None:
    """Name a request no rule matched by its method alone, as the semantic conventions do (the
    instrumentation would add its raw path: a span name per probed URL; ``metrics.py`` keeps its
    labels bounded the same way)."""
    if request.url_rule is None:
        span.update_name(span.name.split(" ", 1)[0])


def tag_request(request_id: str) -> None:
    """Put ``request_id`` on the current request's span, so its log lines and its trace find each
    other (nothing happens when the request is not traced)."""
    trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


def tag(key: str, value) -> None:
    """Put ``key`` on the current request's span: what finds it again in the trace store (orders tags
    the span that placed an order with ``shop.order_id``; the order's page looks its trace up by it)."""
    trace.get_current_span().set_attribute(key, str(value))


def current_trace_id() -> str | None:
    """The active span's trace id (32 hex digits), or None outside a traced request."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None
