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


def upstreams_without_endpoints(service: Service) -> list[str] | None:
    """The upstreams this sidecar knows no healthy endpoint for yet; None when Envoy does not answer.

    Consul reports a check passing before it has pushed the new endpoints to every Envoy; a call in
    that gap gets "no healthy upstream". Waiting for this list to be empty closes the gap.
    """
    if not service.upstreams:
        return []
    stats = _get(service.admin_port, "/stats?filter=membership_healthy")
    if stats is None:
        return None
    lines = stats.splitlines()
    return [u.service for u in service.upstreams
            if not any(line.startswith(f"cluster.{u.service}.") and not line.endswith(": 0") for line in lines)]
