"""Cluster peering between two datacenters' Consul (dc1: cluster.yml, dc2: dc2.yml), through their
mesh gateways (docs/peering.md). Each function acts on one datacenter's API with a token that may
(the management token, in mesh-init); ``meshctl.peering`` runs them in both and carries the peering
token from one to the other without ever printing it.

The accepting side (dc1) makes a token naming its peer (``dc2``); the dialling side (dc2) establishes
the peering with it, under its own name for the other (``dc1``). Both then report the peering
ACTIVE, and each lists what it imports from and exports to the other.
"""

import time
from dataclasses import dataclass

from meshctl import entries
from meshctl.consul_api import Consul, ConsulError


class PeeringError(Exception):
    """A peering step failed; the message says which and what Consul answered."""


@dataclass(frozen=True)
class Peering:
    name: str  # what this datacenter calls the other
    state: str  # PENDING, ESTABLISHING, ACTIVE, FAILING, DELETING, TERMINATED …
    imported: tuple[str, ...]  # the services this datacenter takes from the peer
    exported: tuple[str, ...]  # the services it offers the peer

    def line(self) -> str:
        return (f"{self.name:<8}{self.state:<13}imports: {', '.join(self.imported) or '-'}; "
                f"exports: {', '.join(self.exported) or '-'}")


def listed(found: list[dict] | None) -> list[Peering]:
    """Consul's answer to /v1/peerings as Peerings, those being deleted left out (Consul 1.16 counts
    nothing itself: what is imported and exported is in each peering's stream status). The
    frontend's mesh page reads them with its own client and lists them with this."""
    return [Peering(p["Name"], p.get("State", "UNDEFINED"),
                    tuple(sorted((p.get("StreamStatus") or {}).get("ImportedServices") or [])),
                    tuple(sorted((p.get("StreamStatus") or {}).get("ExportedServices") or [])))
            for p in found or [] if p.get("State") != "DELETING"]


def peerings(consul: Consul) -> list[Peering]:
    """Every peering of the datacenter ``consul`` answers for."""
    return listed(consul.call("GET", "/v1/peerings"))


def gateway_passing(consul: Consul, gateway: str = "mesh-gateway") -> bool:
    """A mesh gateway of this datacenter passes its checks: a peering through the gateways needs one
    on each side before a token is made or used."""
    return bool(consul.get("/v1/health/service/" + gateway + "?passing=1"))


def wait_for_gateway(consul: Consul, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not gateway_passing(consul):
        if time.monotonic() > deadline:
            raise PeeringError(f"no mesh gateway passes its checks in Consul at {consul.address} after {timeout:.0f} s")
        time.sleep(1)


def token(consul: Consul, peer: str) -> str:
    """A peering token for ``peer`` (a new one each time: the peering is then re-established with it).
    A secret: never print or log it."""
    wait_for_gateway(consul)
    try:
        return consul.call("POST", "/v1/peering/token", {"PeerName": peer})["PeeringToken"]
    except ConsulError as err:
        raise PeeringError(f"making a peering token for {peer} failed: {err.message}") from None


def establish(consul: Consul, peer: str, peering_token: str) -> None:
    wait_for_gateway(consul)
    try:
        consul.call("POST", "/v1/peering/establish", {"PeerName": peer, "PeeringToken": peering_token.strip()})
    except ConsulError as err:
        raise PeeringError(f"establishing the peering with {peer} failed: {err.message}") from None


def delete(consul: Consul, peer: str) -> None:
    try:
        consul.call("DELETE", f"/v1/peering/{peer}")
    except ConsulError as err:
        if err.status != 404:
            raise PeeringError(f"deleting the peering {peer} failed: {err.message}") from None


def failover(consul: Consul, resolver: dict, peer: str | None) -> dict:
    """Write ``resolver`` (as meshctl.entries derives it) failing over to ``peer``'s export of the
    same service, or without a failover when ``peer`` is None; what was written."""
    body = entries.with_failover(resolver, peer) if peer else resolver
    try:
        consul.call("PUT", "/v1/config", body)
    except ConsulError as err:
        raise PeeringError(f"writing {entries.Entry(body, '').key} failed: {err.message}") from None
    return body
