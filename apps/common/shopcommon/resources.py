"""Reading a service's own rows over HTTP: one by its id (or the envelope's 404), or a page of them."""

from flask import Blueprint
from sqlalchemy import select

from shopcommon.db import db
from shopcommon.errors import APIError
from shopcommon.pagination import paginate


def get_or_404(model, key, what: str):
    """The ``model`` row with primary key ``key``; else a 404 ``<what>_not_found``."""
    row = db.session.get(model, key)
    if row is None:
        raise APIError(404, f"{what}_not_found", f"{what} {key} does not exist", {"id": f"no such {what}"})
    return row


def read_routes(bp: Blueprint, model, what: str, listing: bool = True) -> None:
    """``GET <prefix>/<id>`` (endpoint ``get_<what>``) and, with ``listing``, ``GET <prefix>``
    (``list_<what>s``: a page of every row, by id)."""
    def get_one(**key):
        return get_or_404(model, key[f"{what}_id"], what).to_dict()

    bp.add_url_rule(f"/<id:{what}_id>", f"get_{what}", get_one, methods=["GET"])
    if listing:
        bp.add_url_rule("", f"list_{what}s", lambda: paginate(select(model), model.to_dict, model.id),
                        methods=["GET"])
