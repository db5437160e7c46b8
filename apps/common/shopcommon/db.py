"""The SQLAlchemy extension and the engine settings every service shares."""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every service's typed models."""


db = SQLAlchemy(model_class=Base)


def has_database(app: Flask) -> bool:
    """Whether ``app`` is bound to ``db``; a service without models (the frontend) is not."""
    return "sqlalchemy" in app.extensions


def engine_options(url: str) -> dict:
    """Engine options for ``url``: a busy timeout for SQLite, liveness checks for servers."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


def tune_sqlite(app: Flask) -> None:
    """Make SQLite safe for concurrent writers from several gunicorn workers.

    pysqlite opens transactions lazily with a deferred BEGIN, so two writers that both read first
    deadlock on the lock upgrade and one fails at once instead of waiting. Taking the write lock at
    BEGIN makes them queue behind the busy timeout instead; WAL keeps readers of other processes
    unblocked meanwhile.
    """
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    # connections opened before the listeners existed lack the settings
    engine.dispose()
