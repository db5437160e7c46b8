"""The mesh at scale (``cluster.yml``) as the bench sees it, from Compose's own reading of the file
with the variables the bench runs with (``docker compose -f cluster.yml config``): the project, its
ingress gateways and where the host reaches each, and the containers to sample.

Nothing of the file is written again here: a gateway is a service whose environment has
``GATEWAY``, reached on the host port it publishes for its listener (the ingress-gateway config
entry's port); an instance is a sidecar (labelled so) and the app in the namespace of the same pod
(``network_mode: service:<pod>``); and every service runs for good but those that others wait on to
complete (mesh-secrets, mesh-init).
"""

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from meshctl import entries, local
from meshctl.bench.containers import docker

FILE = "cluster.yml"
DONE = "service_completed_successfully"  # what a service waits on a one-off step with
ROLE = "shop.mesh.role"  # the label services.yml gives its sidecars and pods


class LayoutError(ValueError):
    """cluster.yml, as Compose reads it, has no way in the bench can use; the message says why."""


@dataclass(frozen=True)
class Gateway:
    """An ingress gateway, one of the shop's ways in from the host."""

    name: str  # its Compose service: ingress-gateway-1
    node: str  # the client agent it registers with: node-1
    url: str  # where the host reaches its listener: http://127.0.0.1:8080


@dataclass(frozen=True)
class Layout:
    """What the bench needs of the cluster: its project, its ways in, what to sample."""

    project: str
    gateways: tuple[Gateway, ...]
    # every container that runs for good, in the table's order: the gateways, each service's
    # instances (app, then its sidecar), then the rest (databases, Consul agents, observers) by name
    containers: tuple[str, ...]


def config() -> dict:
    """cluster.yml as Compose reads it here: ``$COMPOSE_PROJECT_NAME`` and the ports' variables applied."""
    return json.loads(docker("compose", "-f", str(local.REPO / FILE), "config", "--format", "json", timeout=60))


def listener_ports() -> set[int]:
    """The ports an ingress gateway listens on, from its config entry."""
    return {listener["Port"] for entry in entries.load(local.MESH_CONFIG) if entry.body["Kind"] == "ingress-gateway"
            for listener in entry.body.get("Listeners", [])}


def published(definition: dict, targets: set[int]) -> str | None:
    """The URL at which the host reaches the first of ``targets`` that the service publishes."""
    for port in definition.get("ports") or []:
        if port.get("target") in targets and port.get("published"):
            # published on every address of the host: its loopback is one
            host = port.get("host_ip") if port.get("host_ip") not in (None, "", "0.0.0.0") else "127.0.0.1"
            return f"http://{host}:{port['published']}"
    return None


def node_of(definition: dict) -> str:
    """The client agent a container registers with (the host of its CONSUL_HTTP_ADDR): node-1."""
    return urlsplit(definition["environment"]["CONSUL_HTTP_ADDR"]).hostname


def gateway_definitions(defined: dict) -> dict[str, dict]:
    """Compose's definition of every ingress gateway (a service whose environment has GATEWAY=ingress:
    the ways in; the mesh gateway that carries a peering is not one), by name."""
    return {name: definition for name, definition in sorted(defined.items())
            if (definition.get("environment") or {}).get("GATEWAY") == "ingress"}


def pod_of(definition: dict) -> str | None:
    """The pod whose network namespace a container joins (``network_mode: service:<pod>``), if any."""
    mode = definition.get("network_mode") or ""
    return mode.removeprefix("service:") if mode.startswith("service:") else None


def sidecar_definitions(defined: dict) -> dict[str, dict]:
    """Compose's definition of every instance's sidecar (labelled a sidecar, in a pod), by name."""
    return {name: definition for name, definition in sorted(defined.items())
            if (definition.get("labels") or {}).get(ROLE) == "sidecar" and pod_of(definition)}


def app_of(defined: dict, sidecar: str) -> str:
    """The app ``sidecar`` serves: the other container in its pod."""
    pod = pod_of(defined[sidecar])
    apps = [name for name, definition in defined.items() if name != sidecar and pod_of(definition) == pod]
    if len(apps) != 1:
        raise LayoutError(f"{sidecar}'s pod {pod} holds {len(apps)} apps ({apps}), not one")
    return apps[0]


def layout(compose: dict, listeners: set[int], services: list[str]) -> Layout:
    """The gateways and the containers of ``compose`` (Compose's JSON), given the ports an ingress
    gateway listens on and the mesh's services in their order."""
    defined = compose["services"]
    gateways = []
    for name, definition in gateway_definitions(defined).items():
        url = published(definition, listeners)
        if url is None:
            raise LayoutError(f"{name} publishes none of its listener's ports ({sorted(listeners)}) on the host")
        gateways.append(Gateway(name, node_of(definition), url))
    if not gateways:
        raise LayoutError(f"{FILE} has no ingress gateway (a service whose environment has GATEWAY=ingress)")

    sidecars = {app_of(defined, name): (definition["environment"]["SERVICE"], name)
                for name, definition in sidecar_definitions(defined).items()}
    instances = [container for service in services for app, (of, sidecar) in sorted(sidecars.items())
                 if of == service for container in (app, sidecar)]
    once = {name for definition in defined.values()
            for name, wait in (definition.get("depends_on") or {}).items() if wait.get("condition") == DONE}
    first = [gateway.name for gateway in gateways] + instances
    return Layout(compose["name"], tuple(gateways), (*first, *sorted(set(defined) - once - set(first))))
