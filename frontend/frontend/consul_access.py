"""How the frontend reaches Consul's HTTP API, with whose token, and what it answers when Consul does not.

``CONSUL_HTTP_ADDR`` is the Consul gate (plain HTTP on loopback in local mode), which passes every call
on to Consul. What the frontend reads on its own behalf (the mesh page, the intentions list) it reads
with its own token from ``CONSUL_TOKEN_FILE``, which may only read; whatever changes something is
done with the operator's token (see ``operators``), so Consul's ACLs decide what each operator may do.
"""

import json
from pathlib import Path

import consul
from consul.callback import CB
from flask import current_app, g

from meshctl import intentions, peers
from shopcommon import APIError
from shopcommon.config import MissingSetting

# what a call through py-consul raises when Consul is down, unreachable or answers with an error
ERRORS = (consul.ConsulException, OSError)


def read_token_file(path: str | None) -> str | None:
    """The frontend's own token, from ``CONSUL_TOKEN_FILE``; None (anonymous) when the setting is absent.

    A file that is named but cannot be read stops the start: running anonymously instead would show
    an empty mesh with no word of why.
    """
    if not path:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise MissingSetting(f"CONSUL_TOKEN_FILE {path} cannot be read: {exc.strerror or exc} (the file "
                             "holding the frontend's own read-only Consul token)") from None
    if not token:
        raise MissingSetting(f"CONSUL_TOKEN_FILE {path} is empty: it should hold the frontend's own "
                             "read-only Consul token")
    return token


def client(token: str | None = None) -> consul.Consul:
    """A py-consul client for ``CONSUL_HTTP_ADDR`` acting with ``token``, by default the frontend's own
    read-only one; cheap, so one per request, closed when the request ends."""
    c = intentions.client(current_app.config["CONSUL_HTTP_ADDR"], token=token or current_app.config["CONSUL_TOKEN"])
    g.setdefault("consul_clients", []).append(c)
    return c


def close_clients(_exc=None) -> None:
    """Close the connections this request's clients kept open (py-consul's own close leaves them)."""
    for c in g.pop("consul_clients", []):
        c.http.session.close()


def token_self(c: consul.Consul) -> dict:
    """What Consul knows of ``c``'s token (``/v1/acl/token/self``): its AccessorID, Description, policies."""
    return c.acl.token.read_self()


def allowed(c: consul.Consul, resource: str, access: str, segment: str | None = None) -> bool:
    """Whether ``c``'s token may ``access`` ``resource`` (``segment``: which one); py-consul has no
    call for Consul's authorize endpoint."""
    body = [{"Resource": resource, "Access": access, **({"Segment": segment} if segment else {})}]
    answer = c.http.post(CB.json(), "/v1/internal/acl/authorize", headers=c.prepare_headers(),
                         data=json.dumps(body))
    return bool(answer) and answer[0].get("Allow") is True


def may_write_service(c: consul.Consul, service: str) -> bool:
    """Whether ``c``'s token may write ``service``, which is what Consul asks before it hands out the
    service's leaf certificate."""
    return allowed(c, "service", "write", service)


def roots(c: consul.Consul) -> dict:
    """The mesh's CA roots, asked with ``c``'s token (py-consul's own call sends none)."""
    return c.http.get(CB.json(), "/v1/agent/connect/ca/roots", headers=c.prepare_headers())


def peerings(c: consul.Consul) -> list[peers.Peering] | None:
    """This datacenter's peerings with others (cluster.yml's dc1 with dc2.yml's dc2); None when
    ``c``'s token may not read them (a policy from before the peering). Asked first: Consul 1.16
    answers a /v1/peerings its token may not read only after the client gives up (measured: no
    byte in 4 s), not with a 403. py-consul has no call for either."""
    if not allowed(c, "peering", "read"):
        return None
    return peers.listed(c.http.get(CB.json(), "/v1/peerings", headers=c.prepare_headers()))


def unknown_token(exc: Exception) -> bool:
    """Whether Consul refused because it does not know the token at all (mistyped, deleted, expired)."""
    return isinstance(exc, consul.ACLPermissionDenied) and "ACL not found" in str(exc)


def unavailable(exc: Exception) -> APIError:
    """The 503 naming Consul, for an error out of ``ERRORS``."""
    where = f"Consul at {current_app.config['CONSUL_HTTP_ADDR']}"
    if isinstance(exc, consul.ACLPermissionDenied):
        # the frontend's own token was refused: a setting to fix, not an outage
        return APIError(503, "consul_unavailable", f"{where} refused the frontend's own token: "
                        "check CONSUL_TOKEN_FILE", {"upstream": "consul"})
    return APIError(503, "consul_unavailable", f"{where} did not answer ({type(exc).__name__})",
                    {"upstream": "consul"})
