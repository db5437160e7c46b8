"""Structured logs: one JSON line per event on stdout, each carrying the request id (and, when the
request is traced, its trace id: ``shopcommon.tracing``)."""

import json
import logging
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request

from shopcommon.tracing import current_trace_id, tag_request

REQUEST_ID_HEADER = "X-Request-Id"


def request_id() -> str | None:
    """The current request's id, if there is a request."""
    return g.get("request_id") if has_request_context() else None


class JSONFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "msg": record.getMessage(),
        }
        rid = request_id()
        if rid:
            line["request_id"] = rid
        tid = current_trace_id()
        if tid:
            line["trace_id"] = tid
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line)


def init_logging(app: Flask, service: str) -> None:
    """Log JSON lines and give every request an id (the caller's ``X-Request-Id`` or a new one)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter(service))
    logger = logging.getLogger("shop")
    logger.handlers[:] = [handler]
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    logger.propagate = False

    @app.before_request
    def assign_request_id():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # accept the caller's id only if it is short and printable: it goes into every log line
        g.request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        tag_request(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if request.path != "/healthcheck":
            elapsed_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1)
            logger.info(
                "request",
                extra={"fields": {"method": request.method, "path": request.path,
                                  "status": response.status_code, "ms": elapsed_ms}},
            )
        return response
