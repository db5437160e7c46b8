"""frontend: the shop's web UI, the mesh and intentions pages, and ``/api/*`` forwarded to the services."""

import os

from flask import Flask
from flask_wtf.csrf import CSRFError

from frontend import consul_access
from frontend.security import init_security
from shopcommon import config
from shopcommon.api import service_app
from shopcommon.paths import PathNotNormal
from shopcommon.servedby import served_by
from shopcommon.upstream import Upstream

UPSTREAMS = ("users", "products", "orders")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the frontend; upstream URLs, Consul's address, the file holding the frontend's own Consul
    token and the secret key file come from the environment."""
    app = service_app(__name__, "frontend", "The shop's public API: users, products and orders, each "
                      "call relayed to its service through the mesh.", test_config)
    app.config.setdefault("CONSUL_HTTP_ADDR", os.environ.get("CONSUL_HTTP_ADDR", "http://127.0.0.1:8500"))
    app.config.setdefault("CONSUL_TOKEN_FILE", os.environ.get("CONSUL_TOKEN_FILE", "").strip() or None)
    # the mesh page's traffic numbers; without it the page shows health only
    app.config.setdefault("PROMETHEUS_URL", os.environ.get("PROMETHEUS_URL", "").strip() or None)
    # where an order's trace is read from (its page links to it)
    app.config.setdefault("JAEGER_QUERY_URL", os.environ.get("JAEGER_QUERY_URL", "").strip() or None)
    # read once, at start: a file that cannot be read stops the start here, not at the first page
    app.config["CONSUL_TOKEN"] = consul_access.read_token_file(app.config["CONSUL_TOKEN_FILE"])
    app.teardown_appcontext(consul_access.close_clients)
    init_security(app)
    app.add_template_global(served_by)  # every page's footer: who served it

    connect = config.seconds("UPSTREAM_CONNECT_TIMEOUT", 1.0)
    # placing an order makes two calls of its own behind this one
    read = config.seconds("UPSTREAM_TIMEOUT", 10.0)
    for name in UPSTREAMS:
        key = f"{name.upper()}_URL"
        url = app.config.get(key) or config.required(key)
        app.extensions[f"upstream.{name}"] = Upstream(name, url.rstrip("/"), connect, read)

    from frontend import api, intentions, mesh, operators, pages
    app.register_api(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(mesh.bp)
    app.register_blueprint(operators.bp)
    app.register_blueprint(intentions.bp)
    _html_errors(app)
    return app


# status or exception -> (the envelope's code, the page's title, the page's message)
ERROR_PAGES = {
    404: ("not_found", "Not found", "There is nothing at this address."),
    405: ("method_not_allowed", "Not allowed", "This page does not take that kind of request."),
    PathNotNormal: ("path_not_normal", "Not a plain address",
                    "This address is spelled in a way the shop does not take (an encoded character that "
                    "needs no encoding, an encoded slash, a dot or an empty segment). Write it plainly."),
    CSRFError: ("csrf_failed", "Form expired",
                "This form was not sent from a page of this site, or it waited too long. "
                "Go back, reload the page and send it again."),
}


def _html_errors(app: Flask) -> None:
    """A person gets a page for a missing page or a refused form; an API client keeps the JSON envelope."""
    from flask import render_template, request

    from shopcommon.errors import error_response

    def handler(code: str, title: str, message: str):
        def handle(err):
            if request.path.startswith("/api/") or request.path.endswith(".json"):
                response = error_response(err.code, code, err.description or title, getattr(err, "fields", None))
                if getattr(err, "valid_methods", None):
                    response.headers["Allow"] = ", ".join(err.valid_methods)
                return response
            return render_template("error.html", status=err.code, title=title, message=message), err.code
        return handle

    for key, page in ERROR_PAGES.items():
        app.register_error_handler(key, handler(*page))
