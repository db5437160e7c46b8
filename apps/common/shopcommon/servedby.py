"""``Served-By``: every answer names who served it, ``<service>/<version>/<datacenter>/<instance>``.

A canary or a failover is only visible from outside if each answer says which version, in which
datacenter, on which instance made it. The runner (``meshctl``) sets the three parts it knows from
the service definition and where the instance runs; a process started by hand, as in the unit tests,
is the service's one instance, version v1, in dc1.

An answer made with the help of other services names them too, after the service itself, in the
order it called them: ``Served-By: orders/v1/dc1/orders-2, users/v1/dc1/users-1, products/v2/dc2/products``.
So an order placed through the frontend shows which products version, in which datacenter, held
its stock. Each name appears once (a reservation and its confirmation go to one service), at most
``MOST`` in all.
"""

import os
import re

from flask import Flask, current_app, g, has_request_context

HEADER = "Served-By"
VERSION_ENV, DATACENTER_ENV, INSTANCE_ENV = "SERVICE_VERSION", "SERVICE_DATACENTER", "SERVICE_INSTANCE"
MOST = 16
# DNS-label-like, so the four parts never hold the "/" or "," that separate them
PART = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class BadIdentity(ValueError):
    """A part of ``Served-By`` from the environment that the header could not carry unambiguously."""


def identity(service: str) -> str:
    """``service/version/datacenter/instance`` from the environment (defaults: v1, dc1, the service)."""
    parts = {"service": service,
             VERSION_ENV: os.environ.get(VERSION_ENV, "").strip() or "v1",
             DATACENTER_ENV: os.environ.get(DATACENTER_ENV, "").strip() or "dc1",
             INSTANCE_ENV: os.environ.get(INSTANCE_ENV, "").strip() or service}
    for name, value in parts.items():
        if not PART.match(value):
            raise BadIdentity(f"{name} {value!r} cannot go into {HEADER}: use lower-case letters, digits, "
                              "'.', '_' or '-', at most 63")
    return "/".join(parts.values())


def init_served_by(app: Flask, service: str) -> None:
    """Put ``Served-By`` on every answer ``app`` gives: views', errors' and refusals' alike."""
    me = app.config["SERVED_BY"] = identity(service)
    app.config["SERVICE_VERSION"] = me.split("/")[1]  # what a version's own behaviour asks

    @app.after_request
    def name_the_servers(response):
        response.headers[HEADER] = ", ".join(served_by())
        return response


def record_upstream(value: str | None) -> None:
    """Keep what an upstream's answer said of who served it (itself and its own upstreams), for the
    current request."""
    if value and has_request_context():
        g.setdefault("upstream_served_by", []).extend(name.strip() for name in value.split(",") if name.strip())


def served_by() -> list[str]:
    """This service, then whoever served the calls it made for the current request, each once."""
    me = current_app.config["SERVED_BY"]
    return list(dict.fromkeys([me, *g.get("upstream_served_by", [])]))[:MOST]
