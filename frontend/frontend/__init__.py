"""frontend: the shop's web UI, the mesh and intentions pages, and ``/api/*`` forwarded to the services."""

import hashlib
import hmac
import os

from flask import Flask

from shopcommon import config, init_service
from shopcommon.upstream import Upstream

UPSTREAMS = ("users", "products", "orders")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the frontend; upstream URLs, Consul's address and the admin token come from the environment."""
    app = Flask(__name__)
    init_service(app, "frontend", test_config)
    app.config.setdefault("CONSUL_HTTP_ADDR", os.environ.get("CONSUL_HTTP_ADDR", "http://127.0.0.1:8500"))
    app.config.setdefault("ADMIN_TOKEN", os.environ.get("ADMIN_TOKEN", "").strip() or None)
    token = app.config["ADMIN_TOKEN"]
    if token:
        # sessions only carry the operator's sign-in, so they are keyed by the token itself: no
        # second secret to configure, and changing the token signs everybody out
        app.secret_key = hmac.new(token.encode(), b"frontend session", hashlib.sha256).hexdigest()
        app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")

    connect = config.seconds("UPSTREAM_CONNECT_TIMEOUT", 1.0)
    # placing an order makes two calls of its own behind this one
    read = config.seconds("UPSTREAM_TIMEOUT", 10.0)
    for name in UPSTREAMS:
        key = f"{name.upper()}_URL"
        url = app.config.get(key) or config.required(key)
        app.extensions[f"upstream.{name}"] = Upstream(name, url.rstrip("/"), connect, read)

    from frontend import api, intentions, mesh, operators, pages
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(mesh.bp)
    app.register_blueprint(operators.bp)
    app.register_blueprint(intentions.bp)
    _html_errors(app)
    return app


def _html_errors(app: Flask) -> None:
    """A person gets a page for a missing page; an API client keeps the JSON envelope."""
    from flask import render_template, request

    from shopcommon.errors import error_response

    titles = {404: ("Not found", "There is nothing at this address."),
              405: ("Not allowed", "This page does not take that kind of request.")}

    def handle(err):
        title, message = titles[err.code]
        if request.path.startswith("/api/") or request.path.endswith(".json"):
            return error_response(err.code, "not_found" if err.code == 404 else "method_not_allowed",
                                  err.description or title)
        return render_template("error.html", status=err.code, title=title, message=message), err.code

    app.register_error_handler(404, handle)
    app.register_error_handler(405, handle)
