"""A page of a list with a stable order (by id; ``order=desc`` for newest first), as ``PageQuery`` asks."""

from sqlalchemy import Select, func, select

from shopcommon.contract import PageQuery
from shopcommon.db import db


def paginate(query: Select, to_dict, key, page: PageQuery) -> dict:
    """One page of ``query`` ordered by the unique column ``key``, as ``{items, total, limit, offset}``."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    ordered = query.order_by(key.desc() if page.order == "desc" else key.asc())
    rows = db.session.scalars(ordered.limit(page.limit).offset(page.offset)).all()
    return {"items": [to_dict(row) for row in rows], "total": total, "limit": page.limit, "offset": page.offset}
