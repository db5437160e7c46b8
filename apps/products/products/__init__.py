"""products service (originally microProductos): the catalogue and its stock."""

from flask import Flask

from products.models import Product, Reservation, ReservationItem
from shopcommon import background, config, init_service


def create_app(test_config: dict | None = None) -> Flask:
    """Build the products app; ``test_config`` overrides settings for tests."""
    app = Flask(__name__)
    init_service(app, "products", test_config, models=(Product, Reservation, ReservationItem))

    from products.api import bp
    from products.reservations import bp as reservations_bp, expire_due
    app.register_blueprint(bp)
    app.register_blueprint(reservations_bp)
    app.config.setdefault("RESERVATION_HOLD_SECONDS", config.seconds("RESERVATION_HOLD_SECONDS", 30.0))
    background.every(app, config.seconds("RESERVATION_SWEEP_SECONDS", 2.0), expire_due, "reservation-expiry")
    return app
