"""Refusing a request whose path, as sent, is not in normal form: before any view sees it.

The intentions are matched by the receiving Envoy against the path; the app routes what gunicorn
decoded from it. Where the two can read one path differently (``/products/%72eservations`` is
``/products/reservations`` to Flask, but not to a prefix match on the raw text), a denied path could
reach its view. Every sidecar normalizes paths before its RBAC filter does (docs/security.md); this
is the apps' own line behind it: a path that is not already in the form both agree on is a 400.
"""

import re
import string
from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.exceptions import BadRequest

# RFC 3986, 2.3: characters a URI never needs to percent-encode
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
ESCAPE = re.compile(r"%(.{0,2})", re.S)
HEX = frozenset(string.hexdigits)


class PathNotNormal(BadRequest):
    """A request path that is not in normal form; ``error_code`` and ``fields`` for the envelope."""

    error_code = "path_not_normal"

    def __init__(self, problem: str):
        super().__init__(f"the request path is not in normal form: {problem}")
        self.fields = {"path": problem}


def problem(raw_path: str) -> str | None:
    """Why ``raw_path`` (the path as sent: percent-encoded, no query) is not in normal form, or None.

    Normal form: no backslash; every ``%`` starts an escape of two hex digits, of a character that
    needs one, and not of ``/`` or ``\\``; no ``.`` or ``..`` segment; no empty segment (``//``),
    but for a trailing slash.
    """
    if not raw_path.startswith("/"):
        return "it does not start with /"
    if "\\" in raw_path:
        return "it holds a backslash"
    for match in ESCAPE.finditer(raw_path):
        digits = match.group(1)
        if len(digits) < 2 or not set(digits) <= HEX:
            return f"%{digits} is not a percent-encoded byte"
        char = chr(int(digits, 16))
        if char in "/\\":
            return f"%{digits} encodes {'a slash' if char == '/' else 'a backslash'}"
        if char in UNRESERVED:
            return f"%{digits} encodes {char!r}, which needs no encoding"
    segments = raw_path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        return "it holds a dot segment (. or ..)"
    if "" in segments[:-1]:
        return "it holds an empty segment (//)"
    return None


def raw_path(environ: dict) -> str | None:
    """The request's path as sent, from the request line (gunicorn's ``RAW_URI``; werkzeug's
    ``REQUEST_URI``), without its query; an absolute-form target's path. None: the server gave none."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if target is None:
        return None
    if not target.startswith("/"):
        return urlsplit(target).path or "/"
    return target.split("?", 1)[0].split("#", 1)[0]


def init_paths(app: Flask) -> None:
    """Refuse, before any view, a request whose path is not in normal form (a 400 envelope)."""

    @app.before_request
    def refuse_paths_not_in_normal_form():
        path = raw_path(request.environ)
        why = problem(path) if path is not None else None
        if why:
            raise PathNotNormal(why)
