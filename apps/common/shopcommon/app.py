"""``init_service``: the wiring every service's ``create_app`` shares."""

import os

from flask import Flask
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter

from shopcommon import config
from shopcommon.db import db, engine_options, tune_sqlite
from shopcommon.errors import register_error_handlers
from shopcommon.health import bp as health_bp
from shopcommon.logs import init_logging
from shopcommon.metrics import init_metrics
from shopcommon.paths import init_paths
from shopcommon.servedby import init_served_by
from shopcommon.tracing import init_tracing

MAX_BODY_BYTES = 64 * 1024


class IdConverter(IntegerConverter):
    """``<id:name>``: a positive integer a database id column can hold; anything else is a 404."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's name)
        super().__init__(map, min=1, max=2**31 - 1)


def init_service(app: Flask, service: str, test_config: dict | None = None, models: tuple = ()) -> None:
    """Configure ``app`` as shop service ``service``: defaults, then environment, then test overrides.

    ``models`` are the service's own tables, created at start; a service without any (the frontend)
    gets logging, errors, ``/healthcheck``, ``/metrics`` and traces but no database at all.
    """
    app.config.from_mapping(
        SERVICE_NAME=service,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.url_map.converters["id"] = IdConverter

    # first, so its clock starts before any other before_request hook runs
    init_metrics(app, service)
    # before logging: its hook puts the request id on the span this one starts
    init_tracing(app, service)
    init_logging(app, service)
    register_error_handlers(app)
    init_served_by(app, service)
    # after the hooks that count, trace and log a request: a refused path is seen like any answer
    init_paths(app)
    app.register_blueprint(health_bp)
    if models:
        init_database(app, service, models)


def init_database(app: Flask, service: str, models: tuple) -> None:
    """Bind ``db`` to the service's own database and create its missing tables."""
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        # a test's URL wins, so only a real start needs DATABASE_URL or VOLUMES_DIR
        app.config["SQLALCHEMY_DATABASE_URI"] = config.database_url(service)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    app.extensions["shop.tables"] = [model.__table__ for model in models]
    db.init_app(app)
    with app.app_context():
        tune_sqlite(app)
        create_schema(app)


class SchemaMismatch(RuntimeError):
    """A table exists with other columns than the model's: made by another version of the service."""

    def __init__(self, table: str, message: str):
        super().__init__(message)
        self.table = table


def create_schema(app: Flask) -> None:
    """Create this service's missing tables; several workers may race to do it at once.

    Tables are created, never migrated: one left by another version would fail at the first write,
    so the service refuses to start on it instead, saying what to do.
    """
    tables = app.extensions["shop.tables"]
    try:
        db.metadata.create_all(db.engine, tables=tables)
    except SQLAlchemyError:
        # another worker created them between our check and our CREATE
        db.metadata.create_all(db.engine, tables=tables)
    inspector = inspect(db.engine)
    for table in tables:
        found = {column["name"] for column in inspector.get_columns(table.name)}
        wanted = {column.name for column in table.columns}
        differs = (f"extra columns: {sorted(found - wanted)}, missing: {sorted(wanted - found)}" if found != wanted
                   else _autoincrement_differs(table))
        if differs:
            where = db.engine.url.render_as_string(hide_password=True)
            db.engine.dispose()  # this app will not run: close what it opened
            raise SchemaMismatch(table.name,
                f"the {table.name} table in {where} was made by another version of "
                f"{app.config['SERVICE_NAME']} ({differs}); this service keeps no migrations: start it on an "
                f"empty database (local mode: `make down && make clean-data && make up`)")


def _autoincrement_differs(table) -> str | None:
    """What differs when SQLite's table and the model disagree on ``AUTOINCREMENT`` (whether an id
    of a deleted row may be given again, which no column list shows), else None."""
    if db.engine.dialect.name != "sqlite":
        return None
    wanted = bool(table.dialect_options["sqlite"]["autoincrement"])
    with db.engine.connect() as connection:
        made = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                          (table.name,)).scalar()
    if made is None or ("AUTOINCREMENT" in made.upper()) == wanted:
        return None
    return f"its ids {'may be given again' if wanted else 'are never given again'} (AUTOINCREMENT " \
           f"{'missing' if wanted else 'extra'})"
