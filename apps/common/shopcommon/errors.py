"""One JSON error envelope for every failure: ``{"error": {"code", "message", "fields"}}``."""

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from shopcommon.db import db, has_database

log = logging.getLogger("shop")

# werkzeug's names are prose ("Not Found"); clients want stable codes
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    503: "unavailable",
}

# codes one service answers and another acts on: written once, here, for the service that raises
# them and the client (shopcommon.clients) that maps them
UNKNOWN_USER = "unknown_user"
UNKNOWN_PRODUCT = "unknown_product"
INSUFFICIENT_STOCK = "insufficient_stock"
# a reservation that holds no stock any more: given back by its caller, or expired unconfirmed
RESERVATION_RELEASED = "reservation_released"
RESERVATION_EXPIRED = "reservation_expired"
RESERVATION_CONFIRMED = "reservation_confirmed"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
UPSTREAM_DENIED = "upstream_denied"


class APIError(Exception):
    """An error the client should see, with a status, a stable code and the offending fields."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """A Flask response carrying the envelope."""
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    return response


MAX_DRAIN_BYTES = 8 * 1024 * 1024


def _drain_body() -> None:
    """Read and drop an oversized body, so the client, still sending it, gets to read our 413.

    Answering and closing while the client is mid-upload makes it see a reset instead of the error.
    Past ``MAX_DRAIN_BYTES`` we stop: such a client is not worth the bandwidth.
    """
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, MAX_DRAIN_BYTES)
    while stream is not None and remaining > 0:
        chunk = stream.read(min(65536, remaining))
        if not chunk:
            break
        remaining -= len(chunk)


def register_error_handlers(app: Flask) -> None:
    """Turn APIError, every HTTPException and any crash into the envelope."""

    def rollback() -> None:
        if has_database(app):
            db.session.rollback()

    @app.errorhandler(APIError)
    def handle_api_error(err: APIError):
        rollback()
        return error_response(err.status, err.code, err.message, err.fields)

    @app.errorhandler(HTTPException)
    def handle_http_exception(err: HTTPException):
        rollback()
        status = err.code or 500
        message = err.description or err.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body is larger than the {limit} byte limit"
            _drain_body()
        # an exception of ours may name its own code and fields (shopcommon.paths.PathNotNormal)
        code = getattr(err, "error_code", None) or _CODES.get(status, "http_error")
        response = error_response(status, code, message, getattr(err, "fields", None))
        if status == 405 and getattr(err, "valid_methods", None):
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_crash(err: Exception):
        # the session may hold half a write; never let it leak into the next request
        rollback()
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the service failed to handle this request")
