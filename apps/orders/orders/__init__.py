"""orders service (originally microOrders): places orders against users and products."""

from flask import Flask

from orders.models import IdempotencyKey, Order, OrderItem
from shopcommon import background, config
from shopcommon.api import service_app
from shopcommon.upstream import Upstream


def create_app(test_config: dict | None = None) -> Flask:
    """Build the orders app; its upstreams' URLs come from the environment (or ``test_config``)."""
    app = service_app(__name__, "orders", "Places orders: checks the user in users, holds the stock in products, "
                      "and keeps every confirmed order with its prices.", test_config,
                      models=(Order, OrderItem, IdempotencyKey))

    connect = config.seconds("UPSTREAM_CONNECT_TIMEOUT", 1.0)
    read = config.seconds("UPSTREAM_TIMEOUT", 3.0)
    for name in ("users", "products"):
        key = f"{name.upper()}_URL"
        # the sidecar's local upstream listener, e.g. http://127.0.0.1:8102; never a real address
        url = app.config.get(key) or config.required(key)
        app.extensions[f"upstream.{name}"] = Upstream(name, url.rstrip("/"), connect, read)

    from orders.api import bp, recover_pending
    app.register_api(bp)
    app.config.setdefault("PENDING_GRACE_SECONDS", config.seconds("PENDING_GRACE_SECONDS", 10.0))
    background.every(app, config.seconds("ORDERS_RECOVERY_SECONDS", 2.0), recover_pending, "pending-orders")
    return app
