"""Consul's ACLs for this mesh: the bootstrap, and one token per identity with the least it needs.

Run by the one-shot bootstrap step only (`make up`; ``mesh-init`` in containers), the one process
that holds the management token. Every token's secret is made here first (``meshctl.secrets``) and
handed to Consul when the token is created, so each step can be repeated: a token that exists is
brought back to exactly the rights below, one that is missing is created.

    identity        rights                                               held by
    agent           node identity of the Consul node (its own catalogue) the Consul agent
                    (``agent-<node>``, one per node, where there are several: cluster.yml)
    <service>       service identity <service> (register it and its      the service's sidecars
                    sidecar, take its mesh certificate over xDS, read    (every instance's)
                    the catalogue to find its upstreams)
    <gateway>       service identity <gateway>: the same for a gateway   the gateway's Envoy
                    (a mesh gateway: also policy mesh-gateway)
    frontend        policy mesh-read: services, nodes, intentions: read  the frontend app
    observer        policy mesh-read                                     `make status`, the tests
    prometheus      policy catalog-read: services and nodes: read        Prometheus (finds what to
                                                                         scrape in the catalogue)

The anonymous token keeps Consul's default: no rights at all.
"""

from dataclasses import dataclass, field
from pathlib import Path

from meshctl.consul_api import Consul, ConsulError
from meshctl.secrets import DATACENTER, token_secret

MESH_READ = "mesh-read"
MESH_READ_RULES = """\
# what the frontend's pages and `make status` show: services, their health, nodes, intentions, and
# the peerings with other datacenters (dc2.yml)
peering = "read"
service_prefix "" {
  policy     = "read"
  intentions = "read"
}
node_prefix "" {
  policy = "read"
}
"""

CATALOG_READ = "catalog-read"
CATALOG_READ_RULES = """\
# what Prometheus' Consul service discovery reads: the services, their instances and nodes
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
"""


MESH_GATEWAY = "mesh-gateway"
MESH_GATEWAY_RULES = """\
# a mesh gateway (dc2.yml's peering) carries the peering's control traffic to this datacenter's
# servers and its services' calls across: it reads the peerings and the mesh's settings, and
# every agent's (what Consul's own gateway rules are)
mesh    = "write"
peering = "read"
agent_prefix "" {
  policy = "read"
}
"""


@dataclass(frozen=True)
class Identity:
    name: str
    description: str
    services: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()

    def body(self) -> dict:
        """The token's rights as Consul's token API takes them."""
        return {"Description": self.description,
                "ServiceIdentities": [{"ServiceName": s} for s in self.services],
                "NodeIdentities": [{"NodeName": n, "Datacenter": DATACENTER} for n in self.nodes],
                "Policies": [{"Name": p} for p in self.policies]}


@dataclass
class Plan:
    """Which token goes to which file (the folder layout differs between local mode and containers).

    ``nodes`` are the Consul agents' node names: one in local mode and services.yml, the servers and
    client agents in cluster.yml. ``gateways`` are the gateway services (cluster.yml's ingress).
    """
    nodes: list[str]
    services: list[str]
    files: dict[str, Path] = field(default_factory=dict)
    gateways: list[str] = field(default_factory=list)

    def agents(self) -> dict[str, str]:
        """{identity: node}, one agent token per node: a lone node's is plain ``agent``."""
        if len(self.nodes) == 1:
            return {"agent": self.nodes[0]}
        return {f"agent-{node}": node for node in self.nodes}

    def identities(self) -> list[Identity]:
        return ([Identity(name, f"{name}: the Consul agent on node {node}", nodes=(node,))
                 for name, node in self.agents().items()]
                + [Identity(s, f"{s}: registers {s} and runs its sidecar", services=(s,)) for s in self.services]
                + [Identity(g, f"{g}: registers the gateway {g} and runs its Envoy", services=(g,),
                            policies=(MESH_GATEWAY,) if g == MESH_GATEWAY else ())
                   for g in self.gateways]
                + [Identity("frontend-read", "frontend: reads the catalogue, health and intentions",
                            policies=(MESH_READ,)),
                   Identity("observer", "observer: make status and the tests read the mesh", policies=(MESH_READ,)),
                   Identity("prometheus", "prometheus: finds its scrape targets in the catalogue",
                            policies=(CATALOG_READ,))])


def bootstrap(consul: Consul, management_file: Path, owner: int | None = None) -> str:
    """Bootstrap Consul's ACLs with the management secret in ``management_file`` (made when missing).

    A Consul that is bootstrapped already must accept that same secret; otherwise the message says
    how to start over.
    """
    secret = token_secret(management_file, owner)
    try:
        consul.call("PUT", "/v1/acl/bootstrap", {"BootstrapSecret": secret})
        return secret
    except ConsulError as err:
        if "no longer allowed" not in err.message:
            raise
    try:
        consul.with_token(secret).call("GET", "/v1/acl/token/self")
    except ConsulError:
        raise ConsulError(403, f"Consul's ACLs were bootstrapped with another management token than "
                               f"{management_file}'s; delete Consul's data (make clean-data) to start over",
                          "/v1/acl/bootstrap") from None
    return secret


def ensure_policy(consul: Consul, name: str, rules: str, description: str) -> None:
    try:
        current = consul.call("GET", f"/v1/acl/policy/name/{name}")
    except ConsulError as err:
        if err.status not in (403, 404):
            raise
        current = None
    body = {"Name": name, "Description": description, "Rules": rules}
    if current is None:
        try:
            consul.call("PUT", "/v1/acl/policy", body)
            return
        except ConsulError as err:
            # a Consul just restarted can answer the read above before its ACLs are all loaded
            if "already exists" not in err.message:
                raise
        current = consul.call("GET", f"/v1/acl/policy/name/{name}")
    if current.get("Rules") != rules or current.get("Description") != description:
        consul.call("PUT", f"/v1/acl/policy/{current['ID']}", body)


def ensure_token(consul: Consul, identity: Identity, secret: str) -> str:
    """The token whose secret is ``secret``, with exactly ``identity``'s rights; its accessor id."""
    try:
        current = consul.with_token(secret).call("GET", "/v1/acl/token/self")
    except ConsulError as err:
        if err.status != 403:  # 403 "ACL not found": no token with this secret yet
            raise
        current = None
    if current is None:
        return consul.call("PUT", "/v1/acl/token", {"SecretID": secret, **identity.body()})["AccessorID"]
    accessor = current["AccessorID"]
    wanted = identity.body()
    have = {"Description": current.get("Description", ""),
            "ServiceIdentities": [{"ServiceName": s["ServiceName"]} for s in current.get("ServiceIdentities") or []],
            "NodeIdentities": [{"NodeName": n["NodeName"], "Datacenter": n["Datacenter"]}
                               for n in current.get("NodeIdentities") or []],
            "Policies": [{"Name": p["Name"]} for p in current.get("Policies") or []]}
    if have != wanted:
        consul.call("PUT", f"/v1/acl/token/{accessor}", {"SecretID": secret, **wanted})
    return accessor


def ensure(management: Consul, plan: Plan, owners: dict[str, int] | None = None,
           agents: dict[str, Consul] | None = None) -> dict[str, str]:
    """Every policy and token of ``plan``, and each agent's token set; {identity: secret}.

    An agent takes its token through its own API: ``agents`` is {node: that agent's API, with the
    management token}; without it, the plan's one node is the agent ``management`` talks to.
    """
    if agents is None:
        if len(plan.nodes) != 1:
            raise ValueError(f"a plan with several nodes needs each one's agent: {plan.nodes}")
        agents = {plan.nodes[0]: management}
    ensure_policy(management, MESH_READ, MESH_READ_RULES, "read the catalogue, health and intentions")
    ensure_policy(management, CATALOG_READ, CATALOG_READ_RULES, "read the catalogue and health")
    if MESH_GATEWAY in plan.gateways:
        ensure_policy(management, MESH_GATEWAY, MESH_GATEWAY_RULES, "a mesh gateway's: peerings through it")
    secrets = {}
    for identity in plan.identities():
        secret = token_secret(plan.files[identity.name], (owners or {}).get(identity.name))
        ensure_token(management, identity, secret)
        secrets[identity.name] = secret
    # persisted by each agent (enable_token_persistence), so it survives restarts
    for name, node in plan.agents().items():
        agents[node].call("PUT", "/v1/agent/token/agent", {"Token": secrets[name]})
    return secrets
