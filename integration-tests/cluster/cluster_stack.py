"""The cluster suite's Compose project of cluster.yml on host ports of its own, where each instance
runs (read from cluster.yml itself), and what an Envoy in a container reports (dockerstack.py does
the rest)."""

import json
import os
from dataclasses import dataclass

import dockerstack
from dockerstack import MESH, REPO, ComposeProject, docker, session  # noqa: F401  (the suite's tests take them from here)
from meshctl import envoy_admin, topology
from meshctl.bench import cluster
from meshctl.container import GATEWAY_ADMIN_PORT

# not cluster.yml's own project name (shop-cluster): the suite never meets a cluster someone runs.
# The two-datacenter suite (integration-tests/peering) runs its own dc1 from this module, under a
# project name, host ports and subnet of its own (SUITE_CLUSTER_*), so the two never meet either.
PROJECT = os.environ.get("SUITE_CLUSTER_PROJECT", "shopcluster")
PORTS = int(os.environ.get("SUITE_CLUSTER_PORTS", "28000"))  # the first of the suite's host ports
# each node's ingress gateway, on a host port of the suite's own (cluster.yml: CLUSTER_PORT, CLUSTER_PORT_2)
INGRESS_PORTS = {"ingress-gateway-1": PORTS + 80, "ingress-gateway-2": PORTS + 81}
CONSUL_PORT = PORTS + 501
SUBNET = os.environ.get("SUITE_CLUSTER_SUBNET", "10.213.1.0/24")  # not cluster.yml's default either
PROMETHEUS_PORT = PORTS + 90
JAEGER_PORT = PORTS + 686
WAN_NETWORK = f"{PROJECT}_wan"  # the network the datacenters' mesh gateways share (cluster.yml: WAN_NETWORK)
FILE = "cluster.yml"


DEFINITIONS = {d.id: d for d in topology.instances(MESH)}  # every version's definition, by id


@dataclass(frozen=True)
class Instance:
    name: str  # its Compose service: users-1, products-v2-1
    service: str  # the service it is an instance of in Consul: users, products
    node: str  # the client agent its sidecar registers with: node-1
    sidecar: str  # users-1-sidecar
    pod: str  # the container holding both's network namespace, and so the address: users-1-pod
    id: str  # its definition's (its version's): users, products-v2

    @property
    def definition(self) -> topology.Service:
        """Its version's service definition: its ports (admin_port …) and upstreams."""
        return DEFINITIONS[self.id]


@dataclass(frozen=True)
class Gateway:
    name: str  # its Compose service: ingress-gateway-1
    node: str  # the client agent it registers with: node-1

    @property
    def url(self) -> str:
        """Where the suite reaches it on the host."""
        return f"http://127.0.0.1:{INGRESS_PORTS[self.name]}"


def _layout() -> tuple[tuple[str, ...], tuple[str, ...], tuple[Instance, ...], tuple[Gateway, ...]]:
    """The servers, the client agents, every instance and every gateway, as cluster.yml has them (read
    as the bench reads it: meshctl.bench.cluster)."""
    config = json.loads(dockerstack.compose(FILE, "config", "--format", "json", timeout=60).stdout)
    services = config["services"]
    layout = services["mesh-secrets"]["environment"]
    instances = tuple(Instance(cluster.app_of(services, name), DEFINITIONS[d["environment"]["SERVICE"]].name,
                               cluster.node_of(d), name, cluster.pod_of(d), d["environment"]["SERVICE"])
                      for name, d in cluster.sidecar_definitions(services).items())
    gateways = tuple(Gateway(name, cluster.node_of(d)) for name, d in cluster.gateway_definitions(services).items())
    return tuple(layout["MESH_SERVERS"].split()), tuple(layout["MESH_CLIENT_AGENTS"].split()), instances, gateways


SERVERS, NODES, INSTANCES, GATEWAYS = _layout()
GATEWAY_SERVICE = "ingress-gateway"  # what every gateway instance registers as
# node-1's gateway: the clients' way in, unless a test says otherwise
GATEWAY = GATEWAYS[0].name
INGRESS = GATEWAYS[0].url


def gateway_on(node: str) -> Gateway:
    return next(g for g in GATEWAYS if g.node == node)


class Cluster(ComposeProject):
    def envoys(self) -> list[str]:
        return [self.container(i.sidecar) for i in INSTANCES] + [self.container(g.name) for g in GATEWAYS]

    def endpoints_problem(self) -> str:
        short = _short_of_endpoints()
        return f"Envoys that do not know every instance healthy: {short}" if short else ""


STACK = Cluster(
    name=PROJECT, file=FILE, url=INGRESS, consul_port=CONSUL_PORT, consul_agent=SERVERS[0],
    data_variable="CLUSTER_DATA_DIR",
    variables={"CLUSTER_PORT": str(INGRESS_PORTS["ingress-gateway-1"]),
               "CLUSTER_PORT_2": str(INGRESS_PORTS["ingress-gateway-2"]),
               "CLUSTER_CONSUL_PORT": str(CONSUL_PORT), "CLUSTER_SUBNET": SUBNET,
               "CLUSTER_PROMETHEUS_PORT": str(PROMETHEUS_PORT), "CLUSTER_JAEGER_PORT": str(JAEGER_PORT),
               "WAN_NETWORK": WAN_NETWORK},
    on_failure=("mesh-secrets", "mesh-init", *SERVERS, *NODES, *(g.name for g in GATEWAYS),
                *(i.sidecar for i in INSTANCES if i.service == "frontend")),
    settle_timeout=120)
compose, container, logs, settled = STACK.compose, STACK.container, STACK.logs, STACK.settled


def instances(service: str) -> list[Instance]:
    return [i for i in INSTANCES if i.service == service]


def address(service: str) -> str:
    """The container's address on the mesh network (where Consul registers it): a pod's or a gateway's."""
    return docker("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{PROJECT}_mesh").IPAddress}}}}',
                  container(service)).stdout.strip()


def envoy(service: str, admin_port: int, path: str) -> str:
    """What the Envoy in ``service``'s container answers on its admin listener (its loopback only)."""
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{admin_port}{path}', timeout=5).read().decode())"
    result = docker("exec", container(service), "python3", "-c", fetch, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def healthy_endpoints(service: str, admin_port: int) -> dict[str, int]:
    """{upstream service: healthy endpoints} as that Envoy knows them (read inside its container by
    the same code meshctl/rolling-restart.sh asks through `meshctl.container knows`)."""
    read = ("import json; from meshctl import envoy_admin; "
            f"print(json.dumps(envoy_admin.healthy_endpoints({admin_port})))")
    result = docker("exec", container(service), "python3", "-c", read, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) or {}


def host_stats(service: str, admin_port: int, stat: str) -> list[tuple[str, str, str]]:
    """(upstream service, instance's address:port, value) of ``stat`` for every host the Envoy in
    ``service``'s container knows (its /clusters lines: cluster::host::stat::value)."""
    rows = []
    for line in envoy(service, admin_port, "/clusters").splitlines():
        parts = line.split("::")
        if len(parts) == 4 and parts[2] == stat:
            rows.append((envoy_admin.upstream_of(parts[0]) or parts[0], parts[1], parts[3]))
    return rows


def ingress_requests(gateway: str = GATEWAY) -> dict[str, int]:
    """{frontend instance's address: requests the gateway sent it}, from the gateway's Envoy."""
    return {host.rsplit(":", 1)[0]: int(value)
            for upstream, host, value in host_stats(gateway, GATEWAY_ADMIN_PORT, "rq_total") if upstream == "frontend"}


def _short_of_endpoints() -> dict[str, dict[str, int | None]]:
    """{Envoy: what it knows} for each one short of a healthy endpoint per instance of its upstreams."""
    callers = [(i.sidecar, i.definition.admin_port, [u.service for u in i.definition.upstreams])
               for i in INSTANCES] + [(g.name, GATEWAY_ADMIN_PORT, ["frontend"]) for g in GATEWAYS]
    short = {}
    for name, admin_port, upstreams in callers:
        if not upstreams:
            continue
        seen = healthy_endpoints(name, admin_port)
        known = {u: seen.get(u) for u in upstreams}
        if known != {u: len(instances(u)) for u in upstreams}:
            short[name] = {**known, "not healthy": unhealthy_hosts(name, admin_port)}
    return short


def unhealthy_hosts(service: str, admin_port: int) -> dict[str, str]:
    """{upstream instance's address: Envoy's health flags} for each one the Envoy in ``service``'s
    container does not hold healthy (/failed_eds_health: Consul's check; /failed_outlier_check:
    ejected by outlier detection)."""
    return {f"{upstream} {host}": flags for upstream, host, flags in host_stats(service, admin_port, "health_flags")
            if flags != "healthy"}
