"""Who may change intentions: operators who sign in with the admin token, or API clients sending it.

Reading needs nothing; changing intentions needs the admin token (``ADMIN_TOKEN``): the browser signs
in with it, an API client sends ``Authorization: Bearer <token>``. Without a token configured the
pages are read-only and every write answers 403.
"""

import hmac
import logging
from functools import wraps

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from shopcommon import APIError

bp = Blueprint("operators", __name__)
log = logging.getLogger("shop")


def operator() -> str | None:
    """The signed-in operator's name, or the API caller's, when they hold the admin token."""
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and _is_token(header[7:].strip(), token):
        return request.headers.get("X-Operator", "api client")[:64]
    return session.get("operator")


def admin_required(view):
    """Let ``view`` run only for an operator; 403 when nobody can write here, 401 when not signed in."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_app.config["ADMIN_TOKEN"]:
            raise APIError(403, "read_only", "intentions are read-only here: the frontend has no ADMIN_TOKEN")
        if operator() is None:
            raise APIError(401, "unauthorized", "sign in with the admin token to change intentions")
        return view(*args, **kwargs)
    return wrapper


def _is_token(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not current_app.config["ADMIN_TOKEN"]:
        return render_template("login.html", read_only=True), 403
    error = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:64]
        token = request.form.get("token", "")
        if not name:
            error = "say who you are: your name goes into the log of every change"
        elif not _is_token(token, current_app.config["ADMIN_TOKEN"]):
            error = "that is not the admin token"
            log.warning("failed intentions sign-in", extra={"fields": {"operator": name, "ip": request.remote_addr}})
        else:
            session["operator"] = name
            log.info("intentions sign-in", extra={"fields": {"operator": name, "ip": request.remote_addr}})
            return redirect(url_for("intentions.page"), code=303)
    return render_template("login.html", error=error, read_only=False), 401 if error else 200


@bp.post("/logout")
def logout():
    session.pop("operator", None)
    return redirect(url_for("intentions.page"), code=303)
