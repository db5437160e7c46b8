"""frontend: the shop's web page and ``/api/*`` forwarded to the services through the mesh."""

from flask import Flask

from shopcommon import config, init_service
from shopcommon.upstream import Upstream

UPSTREAMS = ("users", "products", "orders")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the frontend; each upstream's URL comes from the environment (or ``test_config``)."""
    app = Flask(__name__)
    init_service(app, "frontend", test_config)

    connect = config.seconds("UPSTREAM_CONNECT_TIMEOUT", 1.0)
    # placing an order makes two calls of its own behind this one
    read = config.seconds("UPSTREAM_TIMEOUT", 10.0)
    for name in UPSTREAMS:
        key = f"{name.upper()}_URL"
        url = app.config.get(key) or config.required(key)
        app.extensions[f"upstream.{name}"] = Upstream(name, url.rstrip("/"), connect, read)

    from frontend.views import bp
    app.register_blueprint(bp)
    return app
