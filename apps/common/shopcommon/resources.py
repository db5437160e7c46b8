"""Reading one of a service's own rows by its id, or the envelope's 404."""

from shopcommon.db import db
from shopcommon.errors import APIError


def get_or_404(model, key, what: str):
    """The ``model`` row with primary key ``key``; else a 404 ``<what>_not_found``."""
    row = db.session.get(model, key)
    if row is None:
        raise APIError(404, f"{what}_not_found", f"{what} {key} does not exist", {"id": f"no such {what}"})
    return row
