"""Calls to another service through this service's sidecar upstream on localhost.

Every call has a timeout and forwards the request id. Whatever keeps the call from reaching a
working service (refused connection, timeout, the mesh denying it, the service erring) becomes a 503
that names the upstream, so callers fail fast and know which part is missing.

The calls go out on one urllib3 pool per process (thread-safe, keep-alive connections to the sidecar
kept between requests), not ``requests``: an order makes four such calls, and ``requests``' own
work per call (sessions, adapters, hooks) was a quarter of orders' CPU (``make profile``). Each call
is a client span of the current trace with its ``traceparent`` passed on, made here rather than by
an instrumentation library: the span the ``requests`` instrumentation made, with the same name and
attributes, at a fraction of its cost.
"""

import json as jsonlib
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import urllib3
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from shopcommon.errors import UPSTREAM_DENIED, UPSTREAM_UNAVAILABLE, APIError
from shopcommon.logs import REQUEST_ID_HEADER, request_id
from shopcommon.servedby import HEADER as SERVED_BY, record_upstream

POOL_SIZE = 16  # connections kept per upstream and process: a worker's threads and then some
_pools: dict[int, urllib3.PoolManager] = {}
_lock = threading.Lock()
_tracer: tuple[trace.TracerProvider, trace.Tracer] | None = None


def _tracer_now() -> trace.Tracer:
    """A tracer of the process's provider as it is now (the tests make a provider each)."""
    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(__name__))
    return _tracer[1]


def _pool() -> urllib3.PoolManager:
    """This process's pool (gunicorn forks workers: a connection is never shared across a fork)."""
    pid = os.getpid()
    pool = _pools.get(pid)
    if pool is None:
        with _lock:
            pool = _pools.setdefault(pid, urllib3.PoolManager(maxsize=POOL_SIZE, retries=False))
    return pool


@dataclass(frozen=True)
class Answer:
    """An upstream's answer: its status, headers (case-insensitive) and body."""

    status_code: int
    headers: urllib3.HTTPHeaderDict
    content: bytes

    @cached_property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class UpstreamUnavailable(APIError):
    """503 naming the upstream: no answer from a working service, so whether it acted is unknown."""

    def __init__(self, upstream: str, message: str, detail: str = ""):
        fields = {"upstream": upstream, "detail": detail} if detail else {"upstream": upstream}
        super().__init__(503, UPSTREAM_UNAVAILABLE, message, fields)


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str
    connect_timeout: float = 1.0
    read_timeout: float = 3.0

    def call(self, method: str, path: str, json: dict | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        """The service's own (JSON) answer, whatever its status; a 503 APIError when it gave none."""
        headers = dict(headers or {})
        rid = request_id()
        if rid:
            headers[REQUEST_ID_HEADER] = rid
        body = None
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        with _tracer_now().start_as_current_span(method, kind=SpanKind.CLIENT, record_exception=False,
                                           set_status_on_exception=False) as span:
            if span.is_recording():
                span.set_attribute("http.method", method)
                span.set_attribute("http.url", url)
            propagate.inject(headers)
            try:
                got = _pool().request(method, url, body=body, headers=headers, redirect=False,
                                      timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout))
            except urllib3.exceptions.NewConnectionError:  # before TimeoutError: in urllib3 2 it is one
                raise self._failed(span, f"{self.name} could not be reached through the mesh") from None
            except urllib3.exceptions.TimeoutError:
                raise self._failed(span, f"{self.name} did not answer within {self.read_timeout:g}s") from None
            except urllib3.exceptions.HTTPError as exc:
                # an answer cut off half-way (its process died while sending it): whether it acted is unknown
                raise self._failed(span, f"{self.name}'s answer broke off ({type(exc).__name__})") from None
            if span.is_recording():
                span.set_attribute("http.status_code", got.status)
                if got.status >= 500:
                    span.set_status(StatusCode.ERROR)
        response = Answer(got.status, got.headers, got.data)
        record_upstream(response.headers.get(SERVED_BY))
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        if response.status_code == 403 and not is_json:
            # Envoy's RBAC filter answers 403 in plain text when an intention denies the call
            raise APIError(
                503, UPSTREAM_DENIED,
                f"the mesh denied the call to {self.name} (a Consul intention forbids it)",
                {"upstream": self.name, "detail": response.text[:200]},
            )
        if not is_json:
            # the service always answers JSON; anything else is Envoy speaking (no healthy upstream,
            # connection refused behind it, ...) or something that is not our service at all
            detail = response.text[:200].strip()
            said = f": {detail[:80]}" if detail else ""
            raise self._unavailable(f"{self.name} is unavailable (HTTP {response.status_code}{said})", detail)
        return response

    def _failed(self, span: trace.Span, message: str) -> UpstreamUnavailable:
        span.set_status(StatusCode.ERROR, message)
        return self._unavailable(message)

    def _unavailable(self, message: str, detail: str = "") -> UpstreamUnavailable:
        return UpstreamUnavailable(self.name, message, detail)
