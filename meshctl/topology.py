"""The mesh's shape, read from Consul's own service definitions (``consul-config/services/*.json``).

Those files are the single source of truth. Consul loads them itself (``make up``) or has them
registered from each sidecar container; everything else that needs a port, an upstream or how a
service is started (the local runner, the container entry points, both test suites) asks this
module instead of repeating it. The definitions are JSON, which Consul reads as it reads HCL, so
the standard library parses them everywhere, in every image, with no parser of our own.
"""

import copy
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit


class TopologyError(ValueError):
    """A service definition lacks something the mesh needs; the message names the file and the key."""


@dataclass(frozen=True)
class Upstream:
    """A service this one calls, through its own sidecar's listener on ``address:port``."""

    service: str
    address: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def env_var(self) -> str:
        """The variable the app reads this upstream's URL from: ``PRODUCTS_URL`` for products."""
        return f"{self.service.upper().replace('-', '_')}_URL"


@dataclass(frozen=True)
class Service:
    name: str
    # the definition's service.id: the service's name for its first instance (services/<name>.json),
    # <name>-<version> for an instance of another version (services/<name>-<version>.json)
    id: str
    address: str
    port: int
    sidecar_port: int
    admin_port: int  # the sidecar's Envoy admin listener (stats, /ready) on 127.0.0.1
    wsgi_app: str  # what gunicorn serves, e.g. "users:create_app()"
    health_path: str
    expose_port: int  # the sidecar's plain-HTTP listener for the health check, used in containers
    upstreams: tuple[Upstream, ...]
    file: Path = field(compare=False)
    definition: dict = field(compare=False, repr=False)
    # the sidecar's Prometheus listener (proxy.config.envoy_prometheus_bind_addr, said again in
    # meta.envoy_metrics_port for Prometheus' service discovery); None: its Envoy is not scraped
    metrics_port: int | None = None
    # the sidecar's expose listener for the app's /metrics (meta.app_metrics_port): how Prometheus
    # reaches an app that listens on its namespace's loopback only; None: the app is not scraped
    app_metrics_port: int | None = None
    # on a service's first instance: the instances of its other versions, each with ports of its own
    others: tuple["Service", ...] = field(default=(), compare=False, repr=False)

    @property
    def sidecar_id(self) -> str:
        return f"{self.id}-sidecar-proxy"

    @property
    def instances(self) -> tuple["Service", ...]:
        """This service's instances in local mode: the first, then one of each other version."""
        return (self, *self.others)

    @property
    def versions(self) -> list[str]:
        """Every version of this service that a definition runs: the first instance's, then the others'."""
        return [self.version] + sorted({i.version for i in self.others})

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def version(self) -> str:
        """The version this definition registers, its ``meta.version`` (v1 when it names none): what a
        service-resolver's subsets select and every answer's ``Served-By`` says."""
        return (self.definition["service"].get("meta") or {}).get("version", "v1")

    def upstream_env(self) -> dict[str, str]:
        """``<NAME>_URL`` for each upstream: all an app knows of the services it calls."""
        return {u.env_var: u.url for u in self.upstreams}

    def app_env(self, instance: str | None = None, datacenter: str = "dc1") -> dict[str, str]:
        """The environment an app starts with: its upstreams, and who it is in ``Served-By``
        (shopcommon.servedby): its version, ``datacenter`` and ``instance`` (default: its service id)."""
        return self.upstream_env() | {
            "SERVICE_VERSION": self.version, "SERVICE_DATACENTER": datacenter,
            "SERVICE_INSTANCE": instance or self.id}

    def ports(self) -> set[int]:
        """Every port this service and its sidecar listen on."""
        return ({self.port, self.sidecar_port, self.admin_port, self.expose_port} | {u.port for u in self.upstreams}
                | {p for p in (self.metrics_port, self.app_metrics_port) if p})

    def with_proxy_config(self, extra: dict) -> dict:
        """This definition with ``extra`` added to its sidecar's ``proxy.config`` (as registered by
        `make up`: how its Envoy reaches the trace collector depends on where it runs)."""
        definition = copy.deepcopy(self.definition)
        proxy = _sidecar(definition["service"]).setdefault("proxy", {})
        proxy["config"] = {**(proxy.get("config") or {}), **extra}
        return definition

    def container_definition(self, ip: str) -> dict:
        """This definition as registered from a container whose network namespace has address ``ip``.

        The service and its sidecar are registered at ``ip``; the app listens only on 127.0.0.1 inside
        the namespace, where Consul cannot reach it, so the HTTP check goes through the sidecar's
        expose listener, which serves the health path and nothing else.
        """
        definition = copy.deepcopy(self.definition)
        service = definition["service"]
        service["address"] = ip
        service["check"]["http"] = f"http://{ip}:{self.expose_port}{self.health_path}"
        if self.metrics_port:  # for a Prometheus in another container
            proxy = _sidecar(service).setdefault("proxy", {})
            proxy.setdefault("config", {})["envoy_prometheus_bind_addr"] = f"0.0.0.0:{self.metrics_port}"
        for check in _sidecar(service).get("checks") or []:
            if "tcp" in check:
                check["tcp"] = f"{ip}:{self.sidecar_port}"
        return definition


def load(folder: Path) -> dict[str, Service]:
    """Every service defined in ``folder/services``, callees before their callers, by name; each
    holds its other versions' instances (``others``).

    Raises TopologyError for a definition the mesh cannot run: a missing key, an upstream with no
    definition, two listeners on one port (in local mode they all share one host), or another
    version of a service that has no first instance or calls other services than it.
    """
    files = sorted((Path(folder) / "services").glob("*.json"))
    if not files:
        raise TopologyError(f"no service definitions in {Path(folder) / 'services'}")
    every: dict[str, Service] = {}
    for path in files:
        service = _service(path)
        if service.id in every:
            raise TopologyError(f"{path}: service id {service.id!r} is also defined in {every[service.id].file}")
        every[service.id] = service
    services = {s.name: s for s in every.values() if s.id == s.name}
    others: dict[str, list[Service]] = {}
    for other in (s for s in every.values() if s.id != s.name):
        first = services.get(other.name)
        if first is None:
            raise TopologyError(f"{other.file}: {other.id} is another instance of {other.name!r}, which has no "
                                f"definition with id {other.name!r}")
        unnamed = [s.file.name for s in (first, other) if "version" not in (s.definition["service"].get("meta") or {})]
        if unnamed:
            raise TopologyError(f"{other.file}: {other.name} runs in several versions, so each of its definitions "
                                f"names its version in meta.version ({', '.join(unnamed)} does not)")
        versions = {first.version} | {s.version for s in others.get(other.name, [])}
        # the same services called, each on a port of its own (every listener shares one host in make up)
        if other.version in versions or [u.service for u in other.upstreams] != [u.service for u in first.upstreams]:
            raise TopologyError(f"{other.file}: another version of {other.name} must name a version of its own "
                                f"(meta.version; taken: {', '.join(sorted(versions))}) and call the same services")
        others.setdefault(other.name, []).append(other)
    services = {name: replace(s, others=tuple(others.get(name, ()))) for name, s in services.items()}
    _check_upstreams(services)
    _check_ports(every)
    return {name: services[name] for name in _callees_first(services)}


def instances(mesh: dict[str, Service]) -> list[Service]:
    """Every instance of every service in ``mesh`` (``load``'s), callees first: what local mode runs."""
    return [instance for service in mesh.values() for instance in service.instances]


def _parse(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise TopologyError(f"{path}: not valid JSON: {exc}") from None


def _sidecar(service: dict) -> dict:
    return (service.get("connect") or {}).get("sidecar_service") or {}


def _service(path: Path) -> Service:
    definition = _parse(path)
    raw = definition.get("service")
    if not isinstance(raw, dict):
        raise TopologyError(f'{path}: expected one {{"service": {{…}}}} definition')

    def need(mapping: dict, key: str, where: str):
        if mapping.get(key) in (None, ""):
            raise TopologyError(f"{path}: {where}{key} is required")
        return mapping[key]

    sidecar = _sidecar(raw)
    proxy = sidecar.get("proxy") or {}
    meta = raw.get("meta") or {}
    check = need(raw, "check", "service.")
    health_path = urlsplit(need(check, "http", "service.check.")).path or "/"
    exposed = {p.get("path"): p for p in (proxy.get("expose") or {}).get("paths") or []}
    if health_path not in exposed:
        raise TopologyError(f"{path}: the sidecar's proxy.expose.paths must expose the check's path {health_path}")
    upstreams = tuple(
        Upstream(need(u, "destination_name", "upstreams[]."), u.get("local_bind_address") or "127.0.0.1",
                 int(need(u, "local_bind_port", "upstreams[].")))
        for u in proxy.get("upstreams") or [])
    service = Service(
        name=need(raw, "name", "service."),
        id=raw.get("id") or raw.get("name"),
        address=need(raw, "address", "service."),
        port=int(need(raw, "port", "service.")),
        sidecar_port=int(need(sidecar, "port", "connect.sidecar_service.")),
        admin_port=int(need(meta, "envoy_admin_port", "service.meta.")),
        wsgi_app=need(meta, "wsgi_app", "service.meta."),
        health_path=health_path,
        expose_port=int(exposed[health_path]["listener_port"]),
        upstreams=upstreams,
        file=path,
        definition=definition,
        metrics_port=int(meta["envoy_metrics_port"]) if meta.get("envoy_metrics_port") else None,
        app_metrics_port=int(meta["app_metrics_port"]) if meta.get("app_metrics_port") else None,
    )
    if service.app_metrics_port and (exposed.get("/metrics") or {}).get("listener_port") != service.app_metrics_port:
        raise TopologyError(f"{path}: service.meta.app_metrics_port is {service.app_metrics_port}, but the sidecar's "
                            f"proxy.expose.paths has no /metrics on that listener_port")
    _check_agrees(service, raw, exposed[health_path])
    return service


def _check_agrees(service: Service, raw: dict, exposed: dict) -> None:
    """What a definition has to say twice (Consul wants it so) must say the same both times."""
    sidecar = _sidecar(raw)
    said = [
        ("the port in service.check.http", urlsplit(raw["check"]["http"]).port, service.port, "service.port"),
        ("proxy.local_service_port", (sidecar.get("proxy") or {}).get("local_service_port", service.port),
         service.port, "service.port"),
        ("proxy.expose.paths[].local_path_port", exposed.get("local_path_port"), service.port, "service.port"),
    ]
    bind = ((sidecar.get("proxy") or {}).get("config") or {}).get("envoy_prometheus_bind_addr")
    if bind or service.metrics_port:
        said.append(("the port in proxy.config.envoy_prometheus_bind_addr",
                     int(bind.rsplit(":", 1)[1]) if bind else None, service.metrics_port, "service.meta.envoy_metrics_port"))
    said += [("the port in connect.sidecar_service.checks[].tcp", int(c["tcp"].rsplit(":", 1)[1]),
          service.sidecar_port, "connect.sidecar_service.port")
         for c in sidecar.get("checks") or [] if "tcp" in c]
    said += [("connect.sidecar_service.checks[].alias_service", c["alias_service"], service.id, "service.id")
             for c in sidecar.get("checks") or [] if "alias_service" in c]
    if service.id != service.name and not service.id.startswith(f"{service.name}-"):
        raise TopologyError(f"{service.file}: service.id is {service.id!r}: it must be service.name "
                            f"{service.name!r}, or {service.name}-<something> for another version's instance")
    for where, stated, expected, source in said:
        if stated != expected:
            raise TopologyError(f"{service.file}: {where} is {stated!r}, but {source} is {expected!r}")


def _check_upstreams(services: dict[str, Service]) -> None:
    for service in services.values():
        for upstream in service.upstreams:
            if upstream.service not in services:
                raise TopologyError(f"{service.file}: upstream {upstream.service!r} has no service definition")


def _check_ports(services: dict[str, Service]) -> None:
    owners: dict[int, str] = {}
    for service in services.values():
        for port in sorted(service.ports()):
            if port in owners:
                raise TopologyError(f"{service.file}: port {port} is already used by {owners[port]}")
            owners[port] = service.id
        if len(service.ports()) != 4 + len(service.upstreams) + bool(service.metrics_port) + bool(service.app_metrics_port):
            raise TopologyError(f"{service.file}: a port is used twice within the definition")


def _callees_first(services: dict[str, Service]) -> list[str]:
    """Service names, each after the services it calls (where calls form a cycle, in name order)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        for upstream in services[name].upstreams:
            visit(upstream.service)
        ordered.append(name)

    for name in sorted(services):
        visit(name)
    return ordered
