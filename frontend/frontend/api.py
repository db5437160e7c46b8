"""``/api/users…``, ``/api/products…``, ``/api/orders…`` forwarded to the services through the sidecar."""

from flask import Blueprint, Response, current_app, request

from frontend.security import csrf
from shopcommon.upstream import Upstream
from shopcommon.validation import json_body

bp = Blueprint("api", __name__)
# API clients (curl, scripts) call these with no cookie, and nothing here reads the session. What keeps
# another site from making a browser post here is that a body must be application/json (json_body:
# anything else is a 415), which a page on another site cannot send without the browser asking first
csrf.exempt(bp)

# request headers the services act on, passed along with the call
FORWARDED_HEADERS = ("Idempotency-Key",)

# frontend path prefix -> (upstream, path prefix on that service)
ROUTES = {
    "users": ("users", "/api/users"),
    "products": ("products", "/products"),
    "orders": ("orders", "/api/orders"),
}


def _upstream(name: str) -> Upstream:
    return current_app.extensions[f"upstream.{name}"]


@bp.route("/api/<any(users, products, orders):resource>", methods=["GET", "POST"])
@bp.route("/api/<any(users, products, orders):resource>/<id:item_id>", methods=["GET"])
def forward(resource: str, item_id: int | None = None):
    """Relay the call to the service; status and JSON body pass through unchanged."""
    service, prefix = ROUTES[resource]
    path = prefix if item_id is None else f"{prefix}/{item_id}"
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    body = None
    if request.method == "POST":
        body = json_body()
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    response = _upstream(service).call(request.method, path, json=body, headers=headers)
    relayed = Response(response.content, status=response.status_code, content_type="application/json")
    if "Idempotent-Replayed" in response.headers:
        relayed.headers["Idempotent-Replayed"] = response.headers["Idempotent-Replayed"]
    if "Location" in response.headers and item_id is None:
        relayed.headers["Location"] = f"/api/{resource}/" + response.headers["Location"].rsplit("/", 1)[-1]
    return relayed
