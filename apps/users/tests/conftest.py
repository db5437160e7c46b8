import pytest

from shopcommon.testing import BACKENDS, database_url, dispose, reset_tables
from users import create_app
from users.models import User


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    app = create_app({"TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": database_url(request.param, tmp_path, "users")})
    reset_tables(app)
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
