"""Settings from the environment."""

import os
from pathlib import Path

from sqlalchemy.engine import make_url


class MissingSetting(RuntimeError):
    """A required environment variable is not set."""


def required(name: str) -> str:
    """Return the environment variable ``name`` or stop with a message naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"required setting {name} is not set")
    return value


def database_url(service: str) -> str:
    """The service's SQLAlchemy URL: ``DATABASE_URL``, else a SQLite file under ``VOLUMES_DIR``."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return with_password_file(url)
    volumes = os.environ.get("VOLUMES_DIR", "").strip()
    if not volumes:
        raise MissingSetting(f"{service} has no database: set DATABASE_URL, or VOLUMES_DIR to keep "
                             "its SQLite file under that folder")
    folder = Path(volumes) / service
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / (service + '.db')}"


def with_password_file(url: str) -> str:
    """``url`` with the password read from ``DATABASE_PASSWORD_FILE``, when that is set: the password
    then lives in a file only the service can read, not in its environment."""
    path = os.environ.get("DATABASE_PASSWORD_FILE", "").strip()
    if not path:
        return url
    try:
        password = Path(path).read_text().strip()
    except OSError as exc:
        raise MissingSetting(f"DATABASE_PASSWORD_FILE {path} cannot be read: {exc.strerror or exc}") from None
    if not password:
        raise MissingSetting(f"DATABASE_PASSWORD_FILE {path} is empty")
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise MissingSetting(f"setting {name} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise MissingSetting(f"setting {name} must be positive, got {raw!r}")
    return value
