"""Settings from the environment."""

import os
from pathlib import Path


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
        return url
    volumes = os.environ.get("VOLUMES_DIR", "").strip()
    if not volumes:
        raise MissingSetting(f"{service} has no database: set DATABASE_URL, or VOLUMES_DIR to keep "
                             "its SQLite file under that folder")
    folder = Path(volumes) / service
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / (service + '.db')}"


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
