"""The SQLAlchemy extension and the engine settings every service shares."""

import fcntl
import threading

from flask import Flask, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every service's typed models."""


# Objects keep their values after a commit instead of reloading them on next touch: a reload opens
# a new transaction, and in a request that writes that means SQLite's write lock, held for as long
# as the request goes on (in orders: across its call to products).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def has_database(app: Flask) -> bool:
    """Whether ``app`` is bound to ``db``; a service without models (the frontend) is not."""
    return "sqlalchemy" in app.extensions


def engine_options(url: str) -> dict:
    """Engine options for ``url``: a busy timeout for SQLite, liveness checks for servers."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}


WRITER_WAIT = 30  # seconds, as long as SQLite's own busy timeout


def tune_sqlite(app: Flask) -> None:
    """Make SQLite safe for concurrent writers from several gunicorn workers, and keep reads off
    the writers' queue.

    pysqlite opens transactions lazily with a deferred BEGIN, so two writers that both read first
    deadlock on the lock upgrade and one fails at once instead of waiting. Taking the write lock at
    BEGIN makes them queue behind the busy timeout instead. A request that only reads (GET, HEAD)
    takes no lock at all: in WAL mode it reads a snapshot, however many writers are queued.

    ``synchronous=NORMAL`` in WAL mode: a commit is in the WAL before the call returns, so it
    survives any process being killed; only a power cut or a kernel crash can undo the last
    commits before the next checkpoint (never corrupt the database). A full fsync per commit
    cost most of each write's time.
    """
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # Writers take turns at a lock of ours before BEGIN IMMEDIATE, each woken the moment the one
    # before it is done, instead of meeting in SQLite's busy handler, which sleeps up to 100 ms a
    # time and wakes them in no order: under 16 concurrent orders, orders spent a third of its time
    # there, and p99 was a second. A thread lock for the threads of a worker, then an flock on a
    # file next to the database for the workers: the kernel queues them, and lets go of a killed
    # process's lock by itself. Held until the connection goes back to the pool, after its COMMIT or
    # ROLLBACK. (SQLite's busy timeout still covers anything else that writes the file.)
    writer, holding = threading.Lock(), threading.local()
    database = engine.url.database
    lock_path = f"{database}-writer" if database and database != ":memory:" else None

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        if has_request_context() and request.method in ("GET", "HEAD"):
            connection.exec_driver_sql("BEGIN")
            return
        if not getattr(holding, "lock", False):
            holding.lock = writer.acquire(timeout=WRITER_WAIT)
            if holding.lock and lock_path:
                holding.file = open(lock_path, "a")  # noqa: SIM115  (closed in let_go)
                fcntl.flock(holding.file, fcntl.LOCK_EX)
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def let_go(*_args):
        # a thread's session gives its connection back in that thread: after its transaction, and
        # at the latest when the request or chore ends (also after an error)
        if getattr(holding, "lock", False):
            holding.lock = False
            if getattr(holding, "file", None):
                holding.file.close()  # and with it the flock
                holding.file = None
            writer.release()

    event.listen(engine.pool, "checkin", let_go)
    app.teardown_appcontext(let_go)

    # connections opened before the listeners existed lack the settings
    engine.dispose()
