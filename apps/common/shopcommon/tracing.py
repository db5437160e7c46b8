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

**Sampling.** A trace that starts here is sampled for ``TRACE_SAMPLE_RATIO`` of requests (0.1 by
default: one in ten; 1 keeps every one), chosen by its trace id; a caller's decision, the sampled
flag of its ``traceparent``, is kept (parent-based), so a trace is whole or absent, and a client
that sends a sampled ``traceparent`` always gets its request traced. A request not sampled is still
recorded, cheaply, in memory: when its part here ends with an error span (a 5xx) or took at least
``TRACE_SLOW_MS`` (500 by default), its spans are exported after all (``KeepErrorsAndSlow``), so
every failed or slow request has its trace, from each process that saw it fail or crawl.

**One provider per process.** A provider and the ``requests`` instrumentation are process-wide, so
the first app that traces makes them and names the process after its service (``service.name``); a
later app in the same process (tests build many) shares them and gets only its own Flask
instrumentation. gunicorn creates the app in each worker (no ``--preload``), so each worker has its
own provider and export thread.
"""

import os
import threading
from collections import OrderedDict

import requests
from flask import Flask, request
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanContext, StatusCode, TraceFlags

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
RATIO_ENV, DEFAULT_RATIO = "TRACE_SAMPLE_RATIO", 0.1
SLOW_ENV, DEFAULT_SLOW_MS = "TRACE_SLOW_MS", 500.0
HELD_TRACES = 2_000  # unsampled traces whose local root has not ended yet, at most (oldest let go)
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


def setting(app: Flask | None, name: str, default: float) -> float:
    """A number from the app's config, else the environment, else ``default``."""
    value = app.config[name] if app is not None and name in app.config else os.environ.get(name, "")
    try:
        return float(value) if str(value).strip() else default
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


class HeadSampler(Sampler):
    """Parent-based head sampling: a trace with a parent keeps the parent's decision; one that starts
    here is sampled when its trace id falls in the first ``ratio`` of ids (the same decision in every
    process for the same id). Not sampled is RECORD_ONLY, never DROP: the spans are still made, so
    ``KeepErrorsAndSlow`` can keep a failed or slow one."""

    def __init__(self, ratio: float):
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{RATIO_ENV} must be between 0 and 1, not {ratio}")
        self.ratio = ratio
        self.bound = round(ratio * (1 << 64))

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str, kind=None, attributes=None,
                      links=None, trace_state=None) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid:
            sampled, trace_state = parent.trace_flags.sampled, parent.trace_state
        else:
            sampled = (trace_id & 0xFFFFFFFFFFFFFFFF) < self.bound
        return SamplingResult(Decision.RECORD_AND_SAMPLE if sampled else Decision.RECORD_ONLY, attributes,
                              trace_state)

    def get_description(self) -> str:
        return f"HeadSampler{{{self.ratio}}}"


class KeepErrorsAndSlow(SpanProcessor):
    """Hands sampled spans to ``exporting`` as they end; holds an unsampled trace's spans until its
    local root (the span with no parent in this process: the request's server span) ends, then hands
    them over, marked sampled, if any is an error or the root took ``slow_ms`` or more, and drops them
    otherwise."""

    def __init__(self, exporting: SpanProcessor, slow_ms: float):
        self.exporting, self.slow_ns = exporting, int(slow_ms * 1e6)
        self.held: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self.lock = threading.Lock()

    def on_start(self, span, parent_context=None) -> None:
        self.exporting.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context.trace_flags.sampled:
            self.exporting.on_end(span)
            return
        with self.lock:
            spans = self.held.setdefault(context.trace_id, [])
            spans.append(span)
            if span.parent is not None and not span.parent.is_remote:
                while len(self.held) > HELD_TRACES:
                    self.held.popitem(last=False)
                return
            del self.held[context.trace_id]
        if span.end_time - span.start_time >= self.slow_ns or any(
                s.status.status_code is StatusCode.ERROR for s in spans):
            for kept in spans:
                self.exporting.on_end(_sampled(kept))

    def shutdown(self) -> None:
        self.exporting.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporting.force_flush(timeout_millis)


def _sampled(span: ReadableSpan) -> ReadableSpan:
    """``span`` with the sampled flag set, as the exporting processor takes only those."""
    context = span.context
    return ReadableSpan(
        name=span.name, context=SpanContext(context.trace_id, context.span_id, context.is_remote,
                                            TraceFlags(TraceFlags.SAMPLED), context.trace_state),
        parent=span.parent, resource=span.resource, attributes=span.attributes, events=span.events,
        links=span.links, kind=span.kind, status=span.status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)


def tracer_provider() -> TracerProvider | None:
    """This process's provider; None while no app has turned tracing on."""
    return _provider


def process_provider(service: str, base_url: str, ratio: float = DEFAULT_RATIO,
                     slow_ms: float = DEFAULT_SLOW_MS) -> TracerProvider:
    """This process's provider, made (and ``requests`` instrumented) by the first call."""
    global _provider
    if _provider is None:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}), sampler=HeadSampler(ratio))
        provider.add_span_processor(KeepErrorsAndSlow(BatchSpanProcessor(span_exporter(base_url)), slow_ms))
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
    provider = process_provider(service, base_url, setting(app, RATIO_ENV, DEFAULT_RATIO),
                                setting(app, SLOW_ENV, DEFAULT_SLOW_MS))
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


def sample_ratio() -> float | None:
    """The share of traces this process samples at their start; None while tracing is off."""
    return _provider.sampler.ratio if _provider is not None else None


def current_trace_id() -> str | None:
    """The active span's trace id (32 hex digits), or None outside a traced request."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None
