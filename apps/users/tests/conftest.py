import pytest

from shoptesting import service_app
from users import create_app
from users.models import User

app = service_app(create_app, "users")


@pytest.fixture
def count_users(app):
    """How many users are stored: the check that a rejected request wrote nothing."""
    from shopcommon import db

    def count() -> int:
        with app.app_context():
            return db.session.query(User).count()
    return count
