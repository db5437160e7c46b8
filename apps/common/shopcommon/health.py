"""``GET /healthcheck``: 200 only when the service's database answers; always for one without."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shopcommon.db import db, has_database
from shopcommon.errors import error_response

bp = Blueprint("health", __name__)


@bp.get("/healthcheck")
def healthcheck():
    service = current_app.config["SERVICE_NAME"]
    if not has_database(current_app):
        return jsonify({"status": "ok", "service": service})
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return error_response(503, "database_unavailable", f"{service} cannot reach its database",
                              {"database": type(exc).__name__})
    return jsonify({"status": "ok", "service": service})
