"""Test helpers every service's suite shares: database back ends, a real HTTP server and racing threads.

Kept out of the shipped ``shopcommon`` package: ``pytest.ini`` puts this folder on the path and loads
the module as a plugin (``-p shoptesting``) for its summary hook.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from shopcommon.app import SchemaMismatch, init_service
from shopcommon.db import db

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_ENV = "TEST_POSTGRES_URL"


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(f"PostgreSQL tests skipped: {POSTGRES_ENV} is not set")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any failure means: no server to test against)
        pytest.skip(f"PostgreSQL tests skipped: {POSTGRES_ENV} does not answer ({type(exc).__name__})")
    finally:
        engine.dispose()
    return url


def database_url(backend: str, folder: Path, service: str) -> str:
    """A URL for ``backend``: a fresh SQLite file, or the test PostgreSQL server."""
    if backend == "sqlite":
        return f"sqlite:///{folder / (service + '.db')}"
    return _postgres_url()


def make_app(factory, backend: str, folder: Path, service: str, **settings) -> Flask:
    """``factory``'s app on an empty database of ``backend``; ``settings`` override config."""
    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url(backend, folder, service), **settings}
    for _ in range(20):
        try:
            app = factory(config)
            break
        except SchemaMismatch as stale:
            # the test database is reused between runs: a table an older version left behind goes
            _drop_table(config["SQLALCHEMY_DATABASE_URI"], stale.table)
    else:
        raise RuntimeError(f"{service}: stale tables kept coming back in {config['SQLALCHEMY_DATABASE_URI']}")
    reset_tables(app)
    return app


def _drop_table(url: str, table: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}"{cascade}'))
    finally:
        engine.dispose()


def service_app(factory, service: str):
    """A fixture: ``factory``'s app on an empty database, once per back end in BACKENDS."""
    @pytest.fixture(params=BACKENDS)
    def app(request, tmp_path):
        made = make_app(factory, request.param, tmp_path, service)
        yield made
        dispose(made)
    return app


@pytest.fixture
def client(app):
    """A test client for the suite's ``app`` fixture."""
    return app.test_client()


def reset_tables(app: Flask) -> None:
    """Drop and recreate the service's tables, so every test starts empty on any back end."""
    tables = app.extensions["shop.tables"]
    with app.app_context():
        db.metadata.drop_all(db.engine, tables=tables)
        db.metadata.create_all(db.engine, tables=tables)


def dispose(app: Flask) -> None:
    """Close the app's pooled connections, so no test leaves a session open on the server."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def demo_service(service: str, settings: dict | None = None) -> Flask:
    """A service without a database (``init_service``'s wiring, in tests) with a route that takes an
    id, ``GET /api/orders/<id>``, and one that fails, ``GET /boom``."""
    app = Flask(service)
    init_service(app, service, {"TESTING": True, **(settings or {})})

    @app.get("/api/orders/<int:order_id>")
    def order(order_id):
        return {"id": order_id}

    @app.get("/boom")
    def boom():
        raise RuntimeError("the view failed")

    return app


@contextmanager
def serve(app: Flask):
    """Run ``app`` on a real loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def concurrently(call, times: int) -> list:
    """``call(n)`` for each n below ``times``, every one in its own thread at once; what each returned,
    in order of n (an exception in one is raised here)."""
    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(call, range(times)))


def pytest_terminal_summary(terminalreporter):
    """Say once, loudly, when the PostgreSQL half of the suite did not run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if POSTGRES_ENV in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} PostgreSQL tests SKIPPED: set {POSTGRES_ENV} "
                                        "to a reachable server (CI does)", yellow=True)


# what each of the four apps needs to start in a test that talks to no other: upstreams nobody answers
APP_SETTINGS = {"TESTING": True, "SECRET_KEY": "k" * 64, "USERS_URL": "http://127.0.0.1:9",
                "PRODUCTS_URL": "http://127.0.0.1:9", "ORDERS_URL": "http://127.0.0.1:9"}
APP_NAMES = ["users", "products", "orders", "frontend"]


def any_app(name: str, folder: Path) -> Flask:
    """Service ``name`` (or the frontend), on a SQLite file in ``folder`` when it has a database."""
    from frontend import create_app as frontend
    from orders import create_app as orders
    from products import create_app as products
    from users import create_app as users

    settings = dict(APP_SETTINGS)
    if name != "frontend":
        settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'db.sqlite'}"
    return {"users": users, "products": products, "orders": orders, "frontend": frontend}[name](settings)
