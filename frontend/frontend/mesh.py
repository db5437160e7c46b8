"""The mesh page: every service in Consul's catalogue, its instances, checks, sidecars and upstreams."""

from flask import Blueprint, jsonify, render_template

from frontend import catalog, consul_access

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
