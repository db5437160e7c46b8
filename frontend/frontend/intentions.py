"""The intentions pages and JSON API: list, change and try which service may call which.

Changes go through the shared model (``meshctl.intentions``) and need an operator (see
``operators``); each one is logged with who made it and what.
"""

import json
import logging

import consul
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from frontend import catalog, consul_access, meshtls
from frontend.operators import admin_required, operator
from meshctl import intentions
from shopcommon import APIError

bp = Blueprint("intentions", __name__)
log = logging.getLogger("shop")

SAFE_METHODS = ("GET", "HEAD")


@bp.get("/intentions")
def page():
    return render_page(edit=request.args.get("edit"), notice=request.args.get("notice"))


def render_page(problem: str | None = None, status: int = 200, **context):
    """The intentions page; ``problem`` (a refused change) is shown above the list."""
    try:
        c = consul_access.client()
        rows, services = intentions.list_intentions(c), catalog.service_names(c)
    except consul_access.ERRORS as exc:
        rows, services, problem = [], [], problem or consul_access.unavailable(exc).message
    context.setdefault("edit", None)
    context.setdefault("notice", None)
    return render_template("intentions.html", intentions=rows, services=services, problem=problem,
                           operator=operator(), can_write=bool(current_app.config["ADMIN_TOKEN"]),
                           **context), status


@bp.get("/api/intentions")
def listing():
    try:
        return jsonify({"intentions": [i.to_dict() for i in intentions.list_intentions(consul_access.client())]})
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None


@bp.route("/api/intentions/<source>/<destination>", methods=["PUT", "DELETE"])
@admin_required
def write(source: str, destination: str):
    """PUT ``{"action": "allow"|"deny"}`` or ``{"permissions": [...]}``; DELETE removes it."""
    c = consul_access.client()
    try:
        if request.method == "DELETE":
            _delete(c, source, destination)
            return {"deleted": {"source": source, "destination": destination}}
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise APIError(400, "invalid_body", 'send JSON: {"action": "allow"} or {"permissions": [...]}')
        after = _set(c, source, destination, body.get("action"), body.get("permissions"))
    except intentions.IntentionError as err:
        raise APIError(err.status, "intention_rejected", err.message) from None
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    return {"intention": {"source": source, "destination": destination, **after}}


@bp.post("/intentions")
def form():
    """The page's form: create, change or delete one intention, then back to the page."""
    if not current_app.config["ADMIN_TOKEN"] or operator() is None:
        return _page_with("sign in with the admin token to change intentions", 401)
    source = request.form.get("source", "").strip()
    destination = request.form.get("destination", "").strip()
    mode = request.form.get("mode", "allow")
    c = consul_access.client()
    try:
        if mode == "delete":
            _delete(c, source, destination)
            notice = f"Deleted {source} → {destination}."
        else:
            permissions = None
            if mode == "l7":
                try:
                    permissions = json.loads(request.form.get("permissions") or "null")
                except ValueError:
                    return _page_with("L7 permissions must be a JSON list", 400)
                if not isinstance(permissions, list) or not permissions:
                    return _page_with("L7 permissions must be a non-empty JSON list", 400)
            _set(c, source, destination, None if mode == "l7" else mode, permissions)
            notice = f"Saved {source} → {destination}: {'L7 permissions' if permissions else mode}."
    except intentions.IntentionError as err:
        return _page_with(err.message, err.status)
    except consul_access.ERRORS as exc:
        return _page_with(consul_access.unavailable(exc).message, 503)
    return redirect(url_for("intentions.page", notice=notice), code=303)


@bp.post("/api/intentions/try")
def try_call():
    """Call ``destination``'s sidecar as ``source`` (with source's own mesh certificate) and report
    what the destination's Envoy decided. Only GET and HEAD, so trying changes nothing."""
    body = request.get_json(silent=True) or request.form
    source, destination = body.get("source", ""), body.get("destination", "")
    method = (body.get("method") or "GET").upper()
    path = body.get("path") or "/"
    if method not in SAFE_METHODS:
        raise APIError(400, "unsafe_method", "try it only sends GET or HEAD", {"method": "must be GET or HEAD"})
    if not path.startswith("/") or len(path) > 200 or not path.isprintable() or " " in path:
        raise APIError(400, "invalid_path", "path must start with / and have no spaces", {"path": "invalid"})
    c = consul_access.client()
    try:
        sidecar = catalog.passing_sidecar(c, destination)
        if sidecar is None:
            raise APIError(404, "no_sidecar", f"{destination} has no passing sidecar in Consul",
                           {"destination": "no passing sidecar"})
        identity = meshtls.Identity.from_consul(c.agent.connect.ca.roots(), c.agent.connect.ca.leaf(source))
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    answer = meshtls.request(*sidecar, method, path, identity)
    allowed = meshtls.allowed(answer)
    log.info("intention tried", extra={"fields": {"source": source, "destination": destination,
                                                  "method": method, "path": path, "allowed": allowed}})
    return {"source": source, "destination": destination, "method": method, "path": path,
            "allowed": allowed, **answer}


def _page_with(problem: str, status: int):
    return render_page(problem, status, form=request.form)


def _set(c: consul.Consul, source: str, destination: str, action: str | None, permissions: list | None) -> dict:
    before, after = intentions.set_intention(c, source, destination, action, permissions)
    _log_change("set", source, destination, before, after)
    return after


def _delete(c: consul.Consul, source: str, destination: str) -> None:
    removed = intentions.delete_intention(c, source, destination)
    _log_change("delete", source, destination, removed, None)


def _log_change(what: str, source: str, destination: str, before, after) -> None:
    log.info("intention changed", extra={"fields": {
        "operator": operator(), "ip": request.remote_addr, "change": what,
        "intention": f"{source} -> {destination}", "before": before, "after": after}})
