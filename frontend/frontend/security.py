"""What keeps a browser safe here: the secret key, CSRF tokens on state-changing requests, security headers.

The secret key signs the session cookie and the CSRF tokens. It lives in ``SECRET_KEY_FILE``, made on
first start; it is never logged, and never derived from another setting.
"""

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

from shopcommon.config import MissingSetting

# every form and every POST/PUT/DELETE needs a token, unless its view is exempt (csrf.exempt)
csrf = CSRFProtect()

KEY_BYTES = 32
# no inline script or style anywhere: the pages' JavaScript and CSS are files under static/
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; frame-ancestors 'none'; "
                               "base-uri 'self'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def init_security(app: Flask) -> None:
    """Give ``app`` its secret key, CSRF protection and the security headers on every response."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(Path(app.config.get("SECRET_KEY_FILE") or secret_key_file()))
    # Lax, not Strict: with CSRF tokens in place, a link from another site may open a page signed in
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    csrf.init_app(app)
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    """The security headers, on pages, JSON, static files and errors alike."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def secret_key_file() -> Path:
    """``SECRET_KEY_FILE``; in local mode (``VOLUMES_DIR``) the frontend's folder there by default."""
    path = os.environ.get("SECRET_KEY_FILE", "").strip()
    if path:
        return Path(path)
    volumes = os.environ.get("VOLUMES_DIR", "").strip()
    if volumes:
        return Path(volumes) / "frontend" / "secret_key"
    raise MissingSetting("required setting SECRET_KEY_FILE is not set: the file the frontend keeps the key "
                         "that signs its sessions and CSRF tokens in (made on first start when missing)")


def load_secret_key(path: Path) -> str:
    """The key in ``path``, which the first start writes: random, owner-only, one key for every worker."""
    try:
        if not path.exists():
            _create_key(path)
        key = path.read_text().strip()
    except OSError as exc:
        raise MissingSetting(f"SECRET_KEY_FILE {path}: {exc.strerror or exc}") from None
    if len(key) < KEY_BYTES:
        raise MissingSetting(f"SECRET_KEY_FILE {path} holds no key of at least {KEY_BYTES} characters: "
                             "delete it to have a new one made")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # the whole key is written under a temporary name (mkstemp makes it 0600), then linked into place:
    # a link never replaces a file, so when several workers start at once one key wins, and every
    # worker then reads that one
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
