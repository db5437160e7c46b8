"""users service (originally microUsers): who can place orders."""

from flask import Flask

from shopcommon.api import service_app
from users.models import User


def create_app(test_config: dict | None = None) -> Flask:
    """Build the users app; ``test_config`` overrides settings for tests."""
    app = service_app(__name__, "users", "Who can place orders.", test_config, models=(User,))

    from users.api import bp
    app.register_api(bp)
    return app
