"""What a sidecar's Envoy reports on its admin listener (stdlib only)."""

import json
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


def upstream_of(cluster: str) -> str | None:
    """The service an Envoy cluster of Consul's is for: ``[<subset>.]<service>.<namespace>.<datacenter>
    .internal.<trust domain>.consul`` (a version's subset first when the service's resolver has
    subsets); None for a cluster of another kind (``local_app`` …)."""
    labels = cluster.split(".")
    if "internal" not in labels or labels.index("internal") < 3:
        return None
    return labels[labels.index("internal") - 3]


def subset_of(cluster: str) -> str | None:
    """The version's subset an Envoy cluster of Consul's is for (``v2`` of ``v2.products.default…``);
    None for a service without subsets."""
    labels = cluster.split(".")
    if upstream_of(cluster) is None or labels.index("internal") < 4:
        return None
    return labels[labels.index("internal") - 4]


def split_weights(admin_port: int, upstream: str) -> dict[str, float] | None:
    """{version: percent} of ``upstream``'s requests as the Envoy with its admin on ``admin_port``
    routes them now (its route config for that upstream), a version it sends nothing left out
    (Consul keeps a 0-weight split in the route); ``-`` for a service without subsets. None when
    it does not answer or has no such route. Every route of it must split alike (Consul puts the
    splitter on each)."""
    dump = _get(admin_port, "/config_dump?resource=dynamic_route_configs")
    if dump is None:
        return None
    configs = [c["route_config"] for c in json.loads(dump).get("configs", []) if "route_config" in c]
    routes = [r["route"] for config in configs if config.get("name") == upstream
              for host in config.get("virtual_hosts", []) for r in host.get("routes", []) if "route" in r]
    splits = []
    for route in routes:
        weighted = (route.get("weighted_clusters") or {}).get("clusters")
        clusters = [(c["name"], float(c.get("weight", 0))) for c in weighted] if weighted else [(route["cluster"], 1.0)]
        total = sum(weight for _, weight in clusters) or 1.0
        splits.append({subset_of(name) or "-": round(weight * 100 / total, 2) for name, weight in clusters if weight})
    if not splits:
        return None
    if any(split != splits[0] for split in splits):
        raise ValueError(f"the routes to {upstream} split differently: {splits}")
    return splits[0]


def healthy_by_cluster(admin_port: int) -> dict[tuple[str, str], int] | None:
    """{(upstream service, its version's subset or "-"): healthy endpoints} for every upstream cluster
    the Envoy with its admin on ``admin_port`` knows; None when it does not answer."""
    stats = _get(admin_port, "/stats?filter=membership_healthy")
    if stats is None:
        return None
    counts: dict[tuple[str, str], int] = {}
    for line in stats.splitlines():
        name, _, value = line.partition(": ")
        # cluster.[<subset>.]<service>.default.dc1.internal.<trust domain>.consul.membership_healthy
        if name.startswith("cluster.") and name.endswith(".membership_healthy"):
            cluster = name.removeprefix("cluster.").removesuffix(".membership_healthy")
            upstream = upstream_of(cluster)
            if upstream:
                counts[(upstream, subset_of(cluster) or "-")] = int(value)
    return counts


def healthy_endpoints(admin_port: int) -> dict[str, int] | None:
    """{upstream service: healthy endpoints} for every upstream the Envoy with its admin on
    ``admin_port`` knows, its versions' subsets added up; None when it does not answer."""
    counts = healthy_by_cluster(admin_port)
    if counts is None:
        return None
    total: dict[str, int] = {}
    for (upstream, _), healthy in counts.items():
        total[upstream] = total.get(upstream, 0) + healthy
    return total


def upstreams_without_endpoints(service: Service) -> list[str] | None:
    """The upstreams this sidecar knows no healthy endpoint for yet; None when Envoy does not answer.

    Consul reports a check passing before it has pushed the new endpoints to every Envoy; a call in
    that gap gets "no healthy upstream". Waiting for this list to be empty closes the gap.
    """
    if not service.upstreams:
        return []
    counts = healthy_by_cluster(service.admin_port)
    if counts is None:
        return None
    missing = []
    for upstream in (u.service for u in service.upstreams):
        # every version its routes send requests to (a canary at 0 % needs none); before its routes
        # are known, any of its clusters
        routed = split_weights(service.admin_port, upstream)
        if routed:
            ready = all(counts.get((upstream, version)) for version in routed)
        else:
            ready = any(healthy for (name, _), healthy in counts.items() if name == upstream)
        if not ready:
            missing.append(upstream)
    return missing
