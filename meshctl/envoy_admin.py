"""What a sidecar's Envoy reports on its admin listener (stdlib only)."""

import urllib.request

from meshctl.topology import Service


def _get(admin_port: int, path: str, host: str = "127.0.0.1") -> str | None:
    try:
        with urllib.request.urlopen(f"http://{host}:{admin_port}{path}", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def live(service: Service) -> bool:
    """``service``'s sidecar is up and has taken its first configuration from Consul."""
    return ready(service.admin_port)


def ready(admin_port: int) -> bool:
    """The Envoy with its admin on ``admin_port`` is up and has taken its first configuration."""
    return (_get(admin_port, "/ready") or "").strip() == "LIVE"


def healthy_endpoints(admin_port: int) -> dict[str, int] | None:
    """{upstream service: healthy endpoints} for every upstream cluster the Envoy with its admin on
    ``admin_port`` knows; None when it does not answer."""
    stats = _get(admin_port, "/stats?filter=membership_healthy")
    if stats is None:
        return None
    counts = {}
    for line in stats.splitlines():
        name, _, value = line.partition(": ")
        # cluster.<service>.default.dc1.internal.<trust domain>.consul.membership_healthy
        if name.startswith("cluster.") and name.endswith(".membership_healthy") and name.count(".") > 2:
            counts[name.split(".")[1]] = int(value)
    return counts


def upstreams_without_endpoints(service: Service) -> list[str] | None:
    """The upstreams this sidecar knows no healthy endpoint for yet; None when Envoy does not answer.

    Consul reports a check passing before it has pushed the new endpoints to every Envoy; a call in
    that gap gets "no healthy upstream". Waiting for this list to be empty closes the gap.
    """
    if not service.upstreams:
        return []
    counts = healthy_endpoints(service.admin_port)
    if counts is None:
        return None
    return [u.service for u in service.upstreams if not counts.get(u.service)]
