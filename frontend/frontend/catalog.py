"""What Consul's catalogue says: services, their instances and checks, sidecars and upstreams."""

import consul


def services(c: consul.Consul) -> list[dict]:
    """Every service in Consul's catalog with its instances, their checks, sidecars and upstreams."""
    _, catalog = c.catalog.services()
    rows = []
    for name in sorted(catalog):
        _, instances = c.health.service(name)
        if any(i["Service"].get("Kind") for i in instances):
            continue  # sidecars are shown with the service they serve
        _, proxies = c.health.connect(name)
        found = [_instance(instance, proxies) for instance in instances]
        rows.append({"name": name, "instances": found,
                     "status": worst([{"Status": r["status"]} for r in found]) if found else "critical"})
    return rows


def service_names(c: consul.Consul) -> list[str]:
    """The mesh's own services: neither Consul itself nor a sidecar."""
    _, catalog = c.catalog.services()
    return sorted(name for name in catalog if name != "consul" and not name.endswith("-sidecar-proxy"))


def passing_sidecar(c: consul.Consul, name: str) -> tuple[str, int] | None:
    """Address and port of a passing sidecar of ``name``, or None when it has none."""
    _, proxies = c.health.connect(name, passing=True)
    return (_address(proxies[0]), proxies[0]["Service"]["Port"]) if proxies else None


def _instance(instance: dict, proxies: list[dict]) -> dict:
    svc = instance["Service"]
    sidecar = next((p for p in proxies if p["Service"]["Proxy"].get("DestinationServiceID") == svc["ID"]), None)
    return {
        "id": svc["ID"], "version": (svc.get("Meta") or {}).get("version"), "address": _address(instance),
        "port": svc["Port"],
        "node": instance["Node"]["Node"], "status": worst(instance["Checks"]),
        "checks": [_check(check) for check in instance["Checks"]],
        "sidecar": sidecar and {
            "id": sidecar["Service"]["ID"], "port": sidecar["Service"]["Port"],
            "status": worst(sidecar["Checks"]),
            "checks": [_check(check) for check in sidecar["Checks"] if check["ServiceID"]],
            "upstreams": [{"destination": u["DestinationName"], "local_port": u["LocalBindPort"]}
                          for u in sidecar["Service"]["Proxy"].get("Upstreams") or []],
        },
    }


def _address(entry: dict) -> str:
    """A health entry's service address; empty means the node's."""
    return entry["Service"]["Address"] or entry["Node"]["Address"]


def _check(check: dict) -> dict:
    return {"name": check["Name"], "status": check["Status"], "output": (check.get("Output") or "")[:300]}


def worst(checks: list[dict]) -> str:
    states = {c["Status"] for c in checks}
    return next((s for s in ("critical", "warning") if s in states), "passing")
