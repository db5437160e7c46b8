"""The mesh page: every service in Consul's catalogue, its instances, checks, sidecars and upstreams,
the traffic on each edge between them (``frontend.traffic``, from Prometheus), and the split of
each service that runs in several versions, which a signed-in operator moves (``meshctl.splits``,
with their own Consul token, CSRF-protected and logged as intentions' changes are), and the
peerings with other datacenters (docs/peering.md)."""

import logging

import consul
from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from frontend import catalog, consul_access, traffic
from frontend.operators import UNKNOWN_TOKEN, signed_in
from meshctl import splits
from meshctl.intentions import valid_name

bp = Blueprint("mesh", __name__)
log = logging.getLogger("shop")
WEIGHT_FIELD = "weight."  # the form's field per version: weight.v2


@bp.get("/mesh")
def mesh_page():
    return render_page(notice=request.args.get("notice"))


def render_page(split_problem: str | None = None, status: int = 200, **context):
    """The mesh page; ``split_problem`` (why a move of the weights was refused) is shown with them."""
    problem = None
    try:
        c = consul_access.client()
        services = catalog.services(c)
        split = _splits(c, services)
        peered = _peerings(c)
    except consul_access.ERRORS as exc:
        services, split, peered, problem = [], [], [], consul_access.unavailable(exc).message
    context.setdefault("notice", None)
    return render_template("mesh.html", services=services, splits=split, peerings=peered, problem=problem,
                           split_problem=split_problem, operator=signed_in(), **context), status


def _peerings(c: consul.Consul) -> list:
    """The peerings, or none shown when the frontend's token may not read them (a policy from before
    the peering; mesh-init and make up give it peering:read)."""
    return consul_access.peerings(c) or []


def _splits(c: consul.Consul, services: list[dict]) -> list[splits.Split]:
    """The split of every service registered in several versions that has one (a resolver with subsets)."""
    found = []
    for name in traffic.versions(services):
        try:
            found.append(splits.read(c, name))
        except splits.SplitError:
            continue  # versions registered, but no resolver sends to them apart: nothing to move
    return found


@bp.post("/mesh/split/<service>")
def split_form(service: str):
    """The page's form: a weight per version of ``service``, and the split the operator saw (``index``)."""
    who = signed_in()
    if who is None:
        return render_page("sign in with a Consul token to move the weights", 401)
    if not valid_name(service) or service == "*":
        return render_page(f"{service!r} is not a service name", 400)
    asked = [f"{key.removeprefix(WEIGHT_FIELD)}={value.strip()}" for key, value in request.form.items()
             if key.startswith(WEIGHT_FIELD)]
    index = request.form.get("index", "").strip()
    c = consul_access.client(who.token)
    try:
        before, after = splits.change(c, service, asked, seen=int(index) if index.isdigit() else None)
    except splits.SplitError as err:
        return render_page(err.message, err.status)
    except consul.ACLPermissionDenied as exc:
        log.warning("split change refused", extra={"fields": {**who.log_fields(), "ip": request.remote_addr,
                                                              "service": service}})
        if consul_access.unknown_token(exc):
            return render_page(f"{UNKNOWN_TOKEN}: sign in again", 401)
        return render_page(f"your token may not change {service}'s split: it needs service:write on {service}", 403)
    except consul_access.ERRORS as exc:
        return render_page(consul_access.unavailable(exc).message, 503)
    log.info("split changed", extra={"fields": {**who.log_fields(), "ip": request.remote_addr, "service": service,
                                                "before": str(before), "after": str(after)}})
    return redirect(url_for("mesh.mesh_page", notice=f"{service}: {before} → {after}", _anchor="versions"), code=303)


@bp.get("/mesh.json")
def mesh_json():
    try:
        return jsonify({"services": catalog.services(consul_access.client())})
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None


@bp.get("/mesh/traffic.json")
def traffic_json():
    """The drawing's boxes and edges with their numbers, each version of a split service a box of its
    own and its split edge with its weight; without Prometheus, the boxes and edges with their health
    and weights only, and ``problem`` saying why."""
    try:
        c = consul_access.client()
        services = catalog.services(c)
        weights = {s.service: s.weights for s in _splits(c, services)}
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    boxes, edges = traffic.layout(services)
    version_boxes = traffic.version_boxes(services, boxes)
    try:
        (numbers, denied), rates, problem = traffic.measure(edges), traffic.version_rates(), None
    except traffic.Unavailable as exc:
        numbers, denied, rates, problem = {}, {}, {}, f"{exc}: showing health only."
    return jsonify({
        "window": traffic.WINDOW, "problem": problem, "denied": denied, "services": boxes + version_boxes,
        "edges": [{"from": caller, "to": callee, **numbers.get((caller, callee), {})} for caller, callee in edges]
        + [{"from": v["service"], "to": v["name"], "split": True,
            "weight": weights.get(v["service"], {}).get(v["version"]),
            **({} if problem else {"rps": rates.get((v["service"], v["version"]), 0.0)})} for v in version_boxes]})
