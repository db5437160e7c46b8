"""Who is changing intentions: operators, each with their own Consul ACL token; Consul decides what it may do.

A browser signs in by pasting a token: the frontend asks Consul whose it is (``/v1/acl/token/self``)
and the session keeps that token's AccessorID and Description, to name the operator, and the token
itself, encrypted: the session cookie is only signed, so anything kept in it in clear could be read by
whoever holds the cookie. An API client sends its token with each call instead (``X-Consul-Token`` or
``Authorization: Bearer``). Either way every change is made with the operator's token, and the
frontend never decides by itself who may change what.
"""

import base64
import logging
from dataclasses import dataclass, field
from functools import wraps

import consul
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from frontend import consul_access
from frontend.security import csrf
from shopcommon import APIError

bp = Blueprint("operators", __name__)
log = logging.getLogger("shop")

# a sign-in lasts a working day at most: a copied cookie stops working even if nobody signs out
SIGN_IN_SECONDS = 12 * 3600
UNKNOWN_TOKEN = "Consul does not know that token"


@dataclass(frozen=True)
class Operator:
    """Someone acting with their own Consul token, named by what Consul says of it."""

    accessor: str
    description: str
    token: str = field(repr=False)  # the secret: sent to Consul, never logged nor shown

    @property
    def name(self) -> str:
        return self.description or "a token without a description"

    def log_fields(self) -> dict:
        """Who, for the audit log: the token's public AccessorID and Description, never its secret."""
        return {"operator": self.description, "accessor": self.accessor}


def identify(token: str) -> Operator:
    """The operator ``token`` belongs to, as Consul says; 401 when Consul does not know it."""
    try:
        found = consul_access.token_self(consul_access.client(token))
    except consul.ACLPermissionDenied:
        log.warning("failed intentions sign-in", extra={"fields": {"ip": request.remote_addr, "path": request.path}})
        raise APIError(401, "unauthorized", UNKNOWN_TOKEN) from None
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    return Operator(found["AccessorID"], found.get("Description") or "", token)


def header_token() -> str | None:
    """The token an API client sends: ``X-Consul-Token: <secret>`` or ``Authorization: Bearer <secret>``."""
    token = request.headers.get("X-Consul-Token", "").strip()
    if not token:
        scheme, _, rest = request.headers.get("Authorization", "").partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else ""
    return token or None


def signed_in() -> Operator | None:
    """The operator this browser signed in as, while the sign-in lasts."""
    saved = session.get("operator")
    if not isinstance(saved, dict):
        return None
    try:
        token = _fernet().decrypt(saved["token"].encode(), ttl=SIGN_IN_SECONDS).decode()
    except (InvalidToken, KeyError, AttributeError):
        return None  # expired, or sealed with another secret key
    return Operator(saved.get("accessor", ""), saved.get("description", ""), token)


def remember(who: Operator) -> dict:
    """What the session keeps of a sign-in: who, and their token sealed with a key only the frontend has."""
    return {"accessor": who.accessor, "description": who.description,
            "token": _fernet().encrypt(who.token.encode()).decode()}


def _fernet() -> Fernet:
    """Fernet (AES with an HMAC) keyed by a key derived from the secret key for this one use, so the
    key that signs the cookie is not also the one that seals what is in it."""
    secret = current_app.secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"frontend: operator tokens in the session",
               ).derive(secret.encode() if isinstance(secret, str) else secret)
    return Fernet(base64.urlsafe_b64encode(key))


def operator_required(doing: str):
    """Let the view run only for an operator, found in ``g.operator``; 401 for nobody.

    An API client's token comes in a header, which another site cannot make a browser send, so it
    needs no CSRF token. A browser's session cookie travels with any request, even one another site
    makes it send, so a call it authorises also needs the CSRF token.
    """
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            token = header_token()
            if token is not None:
                g.operator = identify(token)
            else:
                g.operator = signed_in()
                if g.operator is None:
                    raise APIError(401, "unauthorized", f"sign in with a Consul token to {doing}")
                csrf.protect()
            return view(*args, **kwargs)
        return csrf.exempt(wrapper)
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        token = request.form.get("token", "").strip()
        try:
            if not token:
                raise APIError(400, "invalid_token", "paste your Consul ACL token")
            who = identify(token)
        except APIError as err:
            error, status = err.message, err.status
        else:
            session["operator"] = remember(who)
            log.info("intentions sign-in", extra={"fields": {**who.log_fields(), "ip": request.remote_addr}})
            return redirect(url_for("intentions.page"), code=303)
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    session.pop("operator", None)
    return redirect(url_for("intentions.page"), code=303)
