import pytest

from shoptesting import BACKENDS, dispose, make_app
from users import create_app
from users.models import User


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    app = make_app(create_app, request.param, tmp_path, "users")
    yield app
    dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def count_users(app):
    """How many users are stored: the check that a rejected request wrote nothing."""
    from shopcommon import db

    def count() -> int:
        with app.app_context():
            return db.session.query(User).count()
    return count
