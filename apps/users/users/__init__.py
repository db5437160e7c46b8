"""users service (originally microUsers): who can place orders."""

from flask import Flask

from users.models import User
from shopcommon import init_service


def create_app(test_config: dict | None = None) -> Flask:
    """Build the users app; ``test_config`` overrides settings for tests."""
    app = Flask(__name__)
    init_service(app, "users", test_config, models=(User,))

    from users.api import bp
    app.register_blueprint(bp)
    return app
