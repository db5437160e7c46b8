"""products service (originally microProductos): the catalogue and its stock."""

from flask import Flask

from products.models import Product, Reservation, ReservationItem
from shopcommon import background, config
from shopcommon.api import service_app


def create_app(test_config: dict | None = None) -> Flask:
    """Build the products app; ``test_config`` overrides settings for tests."""
    app = service_app(__name__, "products", "The catalogue, its stock, and the reservations orders holds "
                      "stock with.", test_config, models=(Product, Reservation, ReservationItem))

    from products.api import bp
    from products.reservations import bp as reservations_bp, expire_due
    app.register_api(bp)
    app.register_api(reservations_bp)
    app.config.setdefault("RESERVATION_HOLD_SECONDS", config.seconds("RESERVATION_HOLD_SECONDS", 30.0))
    background.every(app, config.seconds("RESERVATION_SWEEP_SECONDS", 2.0), expire_due, "reservation-expiry")
    return app
