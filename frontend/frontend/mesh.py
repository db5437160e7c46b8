"""The mesh page: every service in Consul's catalogue, its instances, checks, sidecars and upstreams,
and the traffic on each edge between them (``frontend.traffic``, from Prometheus)."""

from flask import Blueprint, jsonify, render_template

from frontend import catalog, consul_access, traffic

bp = Blueprint("mesh", __name__)


@bp.get("/mesh")
def mesh_page():
    try:
        services, problem = catalog.services(consul_access.client()), None
    except consul_access.ERRORS as exc:
        services, problem = [], consul_access.unavailable(exc).message
    return render_template("mesh.html", services=services, problem=problem)


@bp.get("/mesh.json")
def mesh_json():
    try:
        return jsonify({"services": catalog.services(consul_access.client())})
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None


@bp.get("/mesh/traffic.json")
def traffic_json():
    """The drawing's boxes and edges with their numbers; without Prometheus, the boxes and edges with
    their health only, and ``problem`` saying why."""
    try:
        services = catalog.services(consul_access.client())
    except consul_access.ERRORS as exc:
        raise consul_access.unavailable(exc) from None
    boxes, edges = traffic.layout(services)
    try:
        numbers, denied, problem = *traffic.measure(edges), None
    except traffic.Unavailable as exc:
        numbers, denied, problem = {}, {}, f"{exc}: showing health only."
    return jsonify({"window": traffic.WINDOW, "problem": problem, "denied": denied, "services": boxes,
                    "edges": [{"from": caller, "to": callee, **numbers.get((caller, callee), {})}
                              for caller, callee in edges]})
