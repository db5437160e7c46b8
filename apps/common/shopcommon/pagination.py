"""``?limit=&offset=&order=`` pagination with a stable order (by id; ``order=desc`` for newest first)."""

from flask import request
from sqlalchemy import Select, func, select

from shopcommon.db import db
from shopcommon.errors import APIError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _query_int(name: str, default: int, minimum: int, maximum: int | None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise APIError(400, "invalid_query", f"{name} must be a whole number", {name: "must be a whole number"})
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise APIError(400, "invalid_query", f"{name} must be {bounds}", {name: f"must be {bounds}"})
    return value


def paginate(query: Select, to_dict, key) -> dict:
    """One page of ``query`` ordered by the unique column ``key``, as ``{items, total, limit, offset}``."""
    limit = _query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _query_int("offset", 0, 0, 2**31 - 1)
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise APIError(400, "invalid_query", "order must be asc or desc", {"order": "must be asc or desc"})
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    ordered = query.order_by(key.desc() if order == "desc" else key.asc())
    rows = db.session.scalars(ordered.limit(limit).offset(offset)).all()
    return {"items": [to_dict(row) for row in rows], "total": total, "limit": limit, "offset": offset}
