"""The intentions pages and JSON API: list, change and try which service may call which.

Anyone may read them (with the frontend's own token). Changes go through the shared model
(``meshctl.intentions``) with the operator's own Consul token (see ``operators``), so Consul decides
whether that operator may change the intentions of that destination; each change is logged with who
made it and what.
"""

import json
import logging

import consul
from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from frontend import catalog, consul_access, meshtls
from frontend.operators import UNKNOWN_TOKEN, Operator, operator_required, signed_in
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
                           operator=signed_in(), **context), status


@bp.get("/api/intentions")
def listing():
    try:
        return jsonify({"intentions": [i.to_dict() for i in intentions.list_intentions(consul_access.client())]})
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None


@bp.route("/api/intentions/<source>/<destination>", methods=["PUT", "DELETE"])
@operator_required("change intentions")
def write(source: str, destination: str):
    """PUT ``{"action": "allow"|"deny"}`` or ``{"permissions": [...]}``; DELETE removes it."""
    who = g.operator
    c = consul_access.client(who.token)
    try:
        if request.method == "DELETE":
            _delete(c, who, source, destination)
            return {"deleted": {"source": source, "destination": destination}}
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise APIError(400, "invalid_body", 'send JSON: {"action": "allow"} or {"permissions": [...]}')
        after = _set(c, who, source, destination, body.get("action"), body.get("permissions"))
    except intentions.IntentionError as err:
        raise APIError(err.status, "intention_rejected", err.message) from None
    except consul.ACLPermissionDenied as exc:
        raise _refused(exc, who, source, destination) from None
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    return {"intention": {"source": source, "destination": destination, **after}}


@bp.post("/intentions")
def form():
    """The page's form: create, change or delete one intention, then back to the page."""
    who = signed_in()
    if who is None:
        return _page_with("sign in with a Consul token to change intentions", 401)
    source = request.form.get("source", "").strip()
    destination = request.form.get("destination", "").strip()
    mode = request.form.get("mode", "allow")
    c = consul_access.client(who.token)
    try:
        if mode == "delete":
            _delete(c, who, source, destination)
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
            _set(c, who, source, destination, None if mode == "l7" else mode, permissions)
            notice = f"Saved {source} → {destination}: {'L7 permissions' if permissions else mode}."
    except intentions.IntentionError as err:
        return _page_with(err.message, err.status)
    except consul.ACLPermissionDenied as exc:
        refused = _refused(exc, who, source, destination)
        return _page_with(refused.message, refused.status)
    except consul_access.ERRORS as exc:
        return _page_with(consul_access.unavailable(exc).message, 503)
    return redirect(url_for("intentions.page", notice=notice), code=303)


@bp.post("/api/intentions/try")
@operator_required("try intentions")
def try_call():
    """Call ``destination``'s sidecar as ``source`` (with source's own mesh certificate) and report
    what the destination's Envoy decided. Only GET and HEAD, so trying changes nothing.

    Acting as ``source`` takes its leaf certificate, which Consul hands only to a token that may write
    ``source``: so only an operator whose own token may do that can try as it.
    """
    body = request.get_json(silent=True) or request.form
    source, destination = body.get("source", ""), body.get("destination", "")
    method = (body.get("method") or "GET").upper()
    path = body.get("path") or "/"
    for name, value in (("source", source), ("destination", destination)):
        if not intentions.valid_name(value) or value == "*":
            raise APIError(400, "invalid_service", f"{name} must be a service name", {name: "not a service name"})
    if method not in SAFE_METHODS:
        raise APIError(400, "unsafe_method", "try it only sends GET or HEAD", {"method": "must be GET or HEAD"})
    if not path.startswith("/") or len(path) > 200 or not path.isprintable() or " " in path:
        raise APIError(400, "invalid_path", "path must start with / and have no spaces", {"path": "invalid"})
    mine = consul_access.client(g.operator.token)
    try:
        if not consul_access.may_write_service(mine, source):
            raise APIError(403, "forbidden", f"your token may not act as {source}: "
                                             f"it needs service:write on {source}")
        sidecar = catalog.passing_sidecar(consul_access.client(), destination)
        if sidecar is None:
            raise APIError(404, "no_sidecar", f"{destination} has no passing sidecar in Consul",
                           {"destination": "no passing sidecar"})
        identity = meshtls.Identity.from_consul(consul_access.roots(mine), mine.agent.connect.ca.leaf(source))
    except consul.ACLPermissionDenied as exc:
        if consul_access.unknown_token(exc):
            raise APIError(401, "unauthorized", f"{UNKNOWN_TOKEN}: sign in again") from None
        raise APIError(403, "forbidden", f"Consul refused your token the certificate of {source}: {exc}") from None
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    answer = meshtls.request(*sidecar, method, path, identity)
    allowed = meshtls.allowed(answer)
    log.info("intention tried", extra={"fields": {**g.operator.log_fields(), "source": source,
                                                  "destination": destination, "method": method, "path": path,
                                                  "allowed": allowed}})
    return {"source": source, "destination": destination, "method": method, "path": path,
            "allowed": allowed, **answer}


def _page_with(problem: str, status: int):
    return render_page(problem, status, form=request.form)


def _set(c: consul.Consul, who: Operator, source: str, destination: str, action: str | None,
         permissions: list | None) -> dict:
    before, after = intentions.set_intention(c, source, destination, action, permissions)
    _log_change(who, "set", source, destination, before, after)
    return after


def _delete(c: consul.Consul, who: Operator, source: str, destination: str) -> None:
    removed = intentions.delete_intention(c, source, destination)
    _log_change(who, "delete", source, destination, removed, None)


def _log_change(who: Operator, what: str, source: str, destination: str, before, after) -> None:
    log.info("intention changed", extra={"fields": {
        **who.log_fields(), "ip": request.remote_addr, "change": what,
        "intention": f"{source} -> {destination}", "before": before, "after": after}})


def _refused(exc: consul.ACLPermissionDenied, who: Operator, source: str, destination: str) -> APIError:
    """Consul's 403 to an operator's change, said plainly: a token it does not know, or one that may not."""
    log.warning("intention change refused", extra={"fields": {
        **who.log_fields(), "ip": request.remote_addr, "intention": f"{source} -> {destination}"}})
    if consul_access.unknown_token(exc):
        return APIError(401, "unauthorized", f"{UNKNOWN_TOKEN}: sign in again")
    return APIError(403, "forbidden", f"your token may not change intentions for {destination}: "
                                      f'it needs intentions = "write" on {destination}')
