"""Who may change intentions: operators who sign in with the admin token, or API clients sending it.

Reading needs nothing; changing intentions needs the admin token (``ADMIN_TOKEN``): the browser signs
in with it, an API client sends ``Authorization: Bearer <token>``. Without a token configured the
pages are read-only and every write answers 403. A browser's sign-in holds only while ``ADMIN_TOKEN``
stays the same: changing the token signs everybody out.
"""

import hashlib
import hmac
import logging
from functools import wraps

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from frontend.security import csrf
from shopcommon import APIError

bp = Blueprint("operators", __name__)
log = logging.getLogger("shop")


def operator() -> str | None:
    """The API caller's name when they send the admin token, else the signed-in operator's."""
    return api_caller() or signed_in()


def api_caller() -> str | None:
    """The name of an API client sending ``Authorization: Bearer <admin token>``."""
    token = current_app.config["ADMIN_TOKEN"]
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and _is_token(header[7:].strip(), token):
        return request.headers.get("X-Operator", "api client")[:64]
    return None


def signed_in() -> str | None:
    """The operator this browser signed in as, while ``ADMIN_TOKEN`` is still the token they signed in with."""
    token = current_app.config["ADMIN_TOKEN"]
    if token and "operator" in session and hmac.compare_digest(session.get("token_mark", ""), _mark(token)):
        return session["operator"]
    return None


def admin_required(view):
    """Let ``view`` run only for an operator; 403 when nobody can write here, 401 when not signed in.

    A browser's session cookie travels with any request, even one another site makes it send, so a
    write it authorises also needs the CSRF token; the Bearer token is never sent by itself.
    """
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_app.config["ADMIN_TOKEN"]:
            raise APIError(403, "read_only", "intentions are read-only here: the frontend has no ADMIN_TOKEN")
        if api_caller() is None:
            if signed_in() is None:
                raise APIError(401, "unauthorized", "sign in with the admin token to change intentions")
            csrf.protect()
        return view(*args, **kwargs)
    return csrf.exempt(wrapper)


def _is_token(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _mark(token: str) -> str:
    """What the session keeps of the admin token it was signed in with.

    Keyed with the secret key: the session cookie is signed, not encrypted, and a plain hash in it
    would let whoever holds the cookie guess the token offline.
    """
    key = current_app.secret_key
    return hmac.new(key.encode() if isinstance(key, str) else key, token.encode(), hashlib.sha256).hexdigest()


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
            session.update(operator=name, token_mark=_mark(token))
            log.info("intentions sign-in", extra={"fields": {"operator": name, "ip": request.remote_addr}})
            return redirect(url_for("intentions.page"), code=303)
    return render_template("login.html", error=error, read_only=False), 401 if error else 200


@bp.post("/logout")
def logout():
    session.pop("operator", None)
    session.pop("token_mark", None)
    return redirect(url_for("intentions.page"), code=303)
