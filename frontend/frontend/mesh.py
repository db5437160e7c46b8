"""The mesh as Consul sees it, and the intentions that govern it.

Reading needs nothing; changing intentions needs the admin token (``ADMIN_TOKEN``): the browser signs
in with it, an API client sends ``Authorization: Bearer <token>``. Without a token configured the
pages are read-only and every write answers 403. Each change is logged with who made it and what.
"""

import hmac
import http.client
import json
import logging
import ssl
import tempfile
from functools import wraps
from pathlib import Path

import consul
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for

from frontend import intentions as model
from shopcommon import APIError

bp = Blueprint("mesh", __name__)
log = logging.getLogger("shop")

SAFE_METHODS = ("GET", "HEAD")


def consul_client() -> consul.Consul:
    return model.client(current_app.config["CONSUL_HTTP_ADDR"])


def _consul_down(exc: Exception) -> APIError:
    return APIError(503, "consul_unavailable", f"Consul at {current_app.config['CONSUL_HTTP_ADDR']} "
                    f"did not answer ({type(exc).__name__})", {"upstream": "consul"})


# --- the mesh -------------------------------------------------------------------------------------

def mesh_state() -> list[dict]:
    """Every service in Consul's catalog with its instances, their checks, sidecars and upstreams."""
    c = consul_client()
    _, catalog = c.catalog.services()
    services = []
    for name in sorted(catalog):
        _, instances = c.health.service(name)
        if any(i["Service"].get("Kind") for i in instances):
            continue  # sidecars are shown with the service they serve
        _, proxies = c.health.connect(name)
        rows = []
        for instance in instances:
            svc = instance["Service"]
            sidecar = next((p for p in proxies
                            if p["Service"]["Proxy"].get("DestinationServiceID") == svc["ID"]), None)
            rows.append({
                "id": svc["ID"], "address": svc["Address"] or instance["Node"]["Address"], "port": svc["Port"],
                "node": instance["Node"]["Node"], "status": _worst(instance["Checks"]),
                "checks": [_check(c_) for c_ in instance["Checks"]],
                "sidecar": sidecar and {
                    "id": sidecar["Service"]["ID"], "port": sidecar["Service"]["Port"],
                    "status": _worst(sidecar["Checks"]),
                    "checks": [_check(c_) for c_ in sidecar["Checks"] if c_["ServiceID"]],
                    "upstreams": [{"destination": u["DestinationName"], "local_port": u["LocalBindPort"]}
                                  for u in sidecar["Service"]["Proxy"].get("Upstreams") or []],
                },
            })
        services.append({"name": name, "instances": rows,
                         "status": _worst([{"Status": r["status"]} for r in rows]) if rows else "critical"})
    return services


def _check(check: dict) -> dict:
    return {"name": check["Name"], "status": check["Status"], "output": (check.get("Output") or "")[:300]}


def _worst(checks: list[dict]) -> str:
    states = {c["Status"] for c in checks}
    return next((s for s in ("critical", "warning") if s in states), "passing")


@bp.get("/mesh")
def mesh_page():
    try:
        services, problem = mesh_state(), None
    except (consul.ConsulException, OSError) as exc:
        services, problem = [], _consul_down(exc).message
    return render_template("mesh.html", services=services, problem=problem)


@bp.get("/mesh.json")
def mesh_json():
    try:
        return jsonify({"services": mesh_state()})
    except (consul.ConsulException, OSError) as exc:
        raise _consul_down(exc) from None


# --- who may change intentions --------------------------------------------------------------------

def operator() -> str | None:
    """The signed-in operator's name, or the API caller's, when they hold the admin token."""
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return request.headers.get("X-Operator", "api client")[:64]
    return session.get("operator")


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_app.config["ADMIN_TOKEN"]:
            raise APIError(403, "read_only", "intentions are read-only here: the frontend has no ADMIN_TOKEN")
        if operator() is None:
            raise APIError(401, "unauthorized", "sign in with the admin token to change intentions")
        return view(*args, **kwargs)
    return wrapper


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
        elif not hmac.compare_digest(token.encode(), current_app.config["ADMIN_TOKEN"].encode()):
            error = "that is not the admin token"
            log.warning("failed intentions sign-in", extra={"fields": {"operator": name, "ip": request.remote_addr}})
        else:
            session["operator"] = name
            log.info("intentions sign-in", extra={"fields": {"operator": name, "ip": request.remote_addr}})
            return redirect(url_for("mesh.intentions_page"), code=303)
    return render_template("login.html", error=error, read_only=False), 401 if error else 200


@bp.post("/logout")
def logout():
    session.pop("operator", None)
    return redirect(url_for("mesh.intentions_page"), code=303)


# --- intentions -----------------------------------------------------------------------------------

def _services() -> list[str]:
    _, catalog = consul_client().catalog.services()
    return sorted(name for name in catalog if name != "consul" and not name.endswith("-sidecar-proxy"))


@bp.get("/intentions")
def intentions_page():
    return render_intentions(edit=request.args.get("edit"), notice=request.args.get("notice"))


def render_intentions(problem: str | None = None, status: int = 200, **context):
    """The intentions page; ``problem`` (a refused change) is shown above the list."""
    try:
        rows, services = model.list_intentions(consul_client()), _services()
    except (consul.ConsulException, OSError) as exc:
        rows, services, problem = [], [], problem or _consul_down(exc).message
    context.setdefault("edit", None)
    context.setdefault("notice", None)
    return render_template("intentions.html", intentions=rows, services=services, problem=problem,
                           operator=operator(), can_write=bool(current_app.config["ADMIN_TOKEN"]),
                           **context), status


@bp.get("/api/intentions")
def intentions_json():
    try:
        return jsonify({"intentions": [i.to_dict() for i in model.list_intentions(consul_client())]})
    except (consul.ConsulException, OSError) as exc:
        raise _consul_down(exc) from None


def _change(what: str, source: str, destination: str, before, after) -> None:
    log.info("intention changed", extra={"fields": {
        "operator": operator(), "ip": request.remote_addr, "change": what,
        "intention": f"{source} -> {destination}", "before": before, "after": after}})


@bp.route("/api/intentions/<source>/<destination>", methods=["PUT", "DELETE"])
@admin_required
def intention_write(source: str, destination: str):
    """PUT ``{"action": "allow"|"deny"}`` or ``{"permissions": [...]}``; DELETE removes it."""
    c = consul_client()
    try:
        if request.method == "DELETE":
            removed = model.delete_intention(c, source, destination)
            _change("delete", source, destination, removed, None)
            return {"deleted": {"source": source, "destination": destination}}
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise APIError(400, "invalid_body", 'send JSON: {"action": "allow"} or {"permissions": [...]}')
        before, after = model.set_intention(c, source, destination, body.get("action"), body.get("permissions"))
    except model.IntentionError as err:
        raise APIError(err.status, "intention_rejected", err.message) from None
    except (consul.ConsulException, OSError) as exc:
        raise _consul_down(exc) from None
    _change("set", source, destination, before, after)
    return {"intention": {"source": source, "destination": destination, **after}}


@bp.post("/intentions")
def intention_form():
    """The page's form: create, change or delete one intention, then back to the page."""
    if not current_app.config["ADMIN_TOKEN"] or operator() is None:
        return intentions_page_with("sign in with the admin token to change intentions", 401)
    source = request.form.get("source", "").strip()
    destination = request.form.get("destination", "").strip()
    mode = request.form.get("mode", "allow")
    c = consul_client()
    try:
        if mode == "delete":
            removed = model.delete_intention(c, source, destination)
            _change("delete", source, destination, removed, None)
            notice = f"Deleted {source} → {destination}."
        else:
            permissions = None
            if mode == "l7":
                try:
                    permissions = json.loads(request.form.get("permissions") or "null")
                except ValueError:
                    return intentions_page_with("L7 permissions must be a JSON list", 400)
                if not isinstance(permissions, list) or not permissions:
                    return intentions_page_with("L7 permissions must be a non-empty JSON list", 400)
            before, after = model.set_intention(c, source, destination, None if mode == "l7" else mode, permissions)
            _change("set", source, destination, before, after)
            notice = f"Saved {source} → {destination}: {'L7 permissions' if permissions else mode}."
    except model.IntentionError as err:
        return intentions_page_with(err.message, err.status)
    except (consul.ConsulException, OSError) as exc:
        return intentions_page_with(_consul_down(exc).message, 503)
    return redirect(url_for("mesh.intentions_page", notice=notice), code=303)


def intentions_page_with(problem: str, status: int):
    return render_intentions(problem, status, form=request.form)


# --- try it ---------------------------------------------------------------------------------------

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
    c = consul_client()
    try:
        _, proxies = c.health.connect(destination, passing=True)
        if not proxies:
            raise APIError(404, "no_sidecar", f"{destination} has no passing sidecar in Consul",
                           {"destination": "no passing sidecar"})
        roots = c.agent.connect.ca.roots()
        leaf = c.agent.connect.ca.leaf(source)
    except (consul.ConsulException, OSError) as exc:
        raise _consul_down(exc) from None
    target = proxies[0]["Service"]
    address = target["Address"] or proxies[0]["Node"]["Address"]
    result = _mtls_request(address, target["Port"], method, path, roots, leaf)
    allowed = result.get("status") is not None and not (result["status"] == 403 and "RBAC" in result.get("body", ""))
    log.info("intention tried", extra={"fields": {"source": source, "destination": destination,
                                                  "method": method, "path": path, "allowed": allowed}})
    return {"source": source, "destination": destination, "method": method, "path": path,
            "allowed": allowed, **result}


def _mtls_request(host: str, port: int, method: str, path: str, roots: dict, leaf: dict) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        ca, cert, key = (Path(folder) / name for name in ("ca.pem", "cert.pem", "key.pem"))
        ca.write_text("".join(root["RootCert"] for root in roots["Roots"]))
        cert.write_text(leaf["CertPEM"])
        key.write_text(leaf["PrivateKeyPEM"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # mesh certificates name SPIFFE identities, not hosts
        context.load_verify_locations(ca)
        context.load_cert_chain(cert, key)
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return {"status": response.status, "body": response.read(300).decode("utf-8", "replace")}
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return {"status": None, "body": f"no answer: {type(exc).__name__}: {exc}"}
    finally:
        connection.close()
