"""products service (originally microProductos): the catalogue and its stock."""

from flask import Flask

from products.models import Product, Reservation, ReservationItem
from shopcommon import init_service


def create_app(test_config: dict | None = None) -> Flask:
    """Build the products app; ``test_config`` overrides settings for tests."""
    app = Flask(__name__)
    init_service(app, "products", test_config, models=(Product, Reservation, ReservationItem))

    from products.api import bp
    from products.reservations import bp as reservations_bp
    app.register_blueprint(bp)
    app.register_blueprint(reservations_bp)
    return app
