"""The mesh's config entries: the hand-written ones in ``consul-config/config-entries/``, and the
resilience entries derived from ``consul-config/resilience.hcl`` and the service definitions.

Consul's HCL has no includes, so a policy every service shares (retries, time limits, circuit
breakers, outlier detection) would be written again in each service's entries. resilience.hcl says
it once; this module derives each service's resolver, router and service-defaults from it, and the
topology (``meshctl.topology``) says which services call which. ``make up`` and the containers'
mesh-init both write what ``load`` returns, the same way (``write``).
"""

import copy
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from meshctl import topology

POLICY_FILE = "resilience.hcl"
ENTRIES_DIR = "config-entries"


UNNAMED = {"mesh": "mesh"}  # kinds whose one entry has no Name in its file (Consul refuses one)


class EntriesError(ValueError):
    """A config entry or the policy cannot be read or derived; the message names the file."""


@dataclass(frozen=True)
class Entry:
    """A config entry as Consul's API spells it, and where it comes from (for people). ``file``: the
    hand-written file it is, unchanged, which is then what Consul is given (Consul's own HCL parser
    reads a few opaque maps differently from pyhcl, e.g. an Envoy extension's arguments)."""

    body: dict
    source: str
    file: Path | None = None

    @property
    def key(self) -> str:
        # the mesh entry is the one kind without a Name: Consul names it "mesh" itself
        return f"{self.body['Kind']}/{self.body.get('Name') or UNNAMED.get(self.body['Kind'])}"


def load(folder: Path, only: list[str] | None = None) -> list[Entry]:
    """Every config entry the mesh writes, in the order to write them: proxy-defaults first (L7
    intentions need its protocol http), then the rest by kind and name.

    ``only``: these files (paths in ``folder``) and nothing derived: dc2.yml's datacenter, which
    runs a few services and calls none of them itself."""
    folder = Path(folder)
    services = topology.load(folder)
    paths = [folder / name for name in only] if only else sorted((folder / ENTRIES_DIR).glob("*.hcl"))
    written = [Entry(_read_hcl(path), str(path.relative_to(folder)), path) for path in paths]
    for entry in written:
        if "Kind" not in entry.body or ("Name" not in entry.body and entry.body["Kind"] not in UNNAMED):
            raise EntriesError(f"{folder / entry.source}: a config entry needs Kind and Name")
    policy = Policy(_read_hcl(folder / POLICY_FILE), services, folder / POLICY_FILE)
    protocol = next((e.body.get("Config", {}).get("protocol") for e in written
                     if e.body["Kind"] == "proxy-defaults"), None)
    entries = [_completed(e, policy) for e in written] + ([] if only else policy.entries(protocol))
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.key in seen:
            raise EntriesError(f"{entry.key} comes from both {seen[entry.key]} and {entry.source}")
        seen[entry.key] = entry.source
    return sorted(entries, key=lambda e: (e.body["Kind"] != "proxy-defaults", e.key))


class Policy:
    """resilience.hcl, read against the topology: what it derives for each service."""

    REQUIRED = ("ConnectTimeout", "Retry", "Reads", "Limits", "PassiveHealthCheck", "RelayPassiveHealthCheck")

    def __init__(self, policy: dict, services: dict[str, topology.Service], path: Path):
        self.policy, self.services = policy, services
        self.per_service = policy.get("Service") or {}
        missing = [key for key in self.REQUIRED if key not in policy]
        missing += [f'Service "{name}" RequestTimeout' for name, block in self.per_service.items()
                    if "RequestTimeout" not in block]
        if missing:
            raise EntriesError(f"{path}: missing {', '.join(missing)}")
        unknown = sorted(set(self.per_service) - set(services))
        if unknown:
            raise EntriesError(f"{path}: Service {unknown[0]!r} has no definition in services/")
        for name in self.called():
            if name not in self.per_service:
                raise EntriesError(f'{path}: {name} has callers but no Service "{name}" block '
                                   "(its RequestTimeout and IdempotentWrites)")

    def called(self) -> list[str]:
        """Every service some definition lists as an upstream."""
        return sorted({u.service for s in self.services.values() for u in s.upstreams})

    def relays(self, name: str) -> bool:
        """A service that calls others answers 503 for their failures: its callers never eject it."""
        return name in self.services and bool(self.services[name].upstreams)

    def health_check(self, upstream: str) -> dict:
        """The outlier detection a caller applies to ``upstream``."""
        key = "RelayPassiveHealthCheck" if self.relays(upstream) else "PassiveHealthCheck"
        return copy.deepcopy(self.policy[key])

    def entries(self, protocol: str | None) -> list[Entry]:
        source = f"derived from {POLICY_FILE} and services/"
        resolvers = [self.resolver(name) for name in self.called()]
        routers = [self.router(name) for name in sorted(self.per_service)]
        defaults = [self.caller_defaults(s, protocol) for s in sorted(self.services) if self.services[s].upstreams]
        splitters = [splitter(name, self.services[name].versions) for name in self.called()
                     if len(self.services[name].versions) > 1]
        return ([Entry(body, source) for body in resolvers + routers + defaults]
                + [Entry(body, "derived from services/ (the versions' meta.version); its weights are the "
                               "operators' from then on: `python -m meshctl split`") for body in splitters])

    def resolver(self, name: str) -> dict:
        return resolver(name, self.policy["ConnectTimeout"], self.services[name].versions)

    def router(self, name: str) -> dict:
        """Retries on the routes a repeat cannot harm, the service's time limit on every route, and a
        last route for everything else with the time limit and no retry."""
        service = self.per_service[name]
        timeout = service["RequestTimeout"]
        retried = [{"Methods": list(self.policy["Reads"])}, *service.get("IdempotentWrites", [])]
        routes = [{"Match": {"HTTP": match}, "Destination": {**self.policy["Retry"], "RequestTimeout": timeout}}
                  for match in retried]
        routes.append({"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"RequestTimeout": timeout}})
        return {"Kind": "service-router", "Name": name, "Routes": routes}

    def caller_defaults(self, name: str, protocol: str | None) -> dict:
        """What ``name``'s Envoy does about every upstream: circuit breakers and outlier detection."""
        overrides = [{"Name": u.service, "PassiveHealthCheck": self.health_check(u.service)}
                     for u in self.services[name].upstreams if self.relays(u.service)]
        upstreams = {"Defaults": {"Limits": dict(self.policy["Limits"]),
                                  "PassiveHealthCheck": copy.deepcopy(self.policy["PassiveHealthCheck"])}}
        if overrides:
            upstreams["Overrides"] = overrides
        body = {"Kind": "service-defaults", "Name": name, "UpstreamConfig": upstreams}
        if protocol:
            body["Protocol"] = protocol
        return body

    def complete_gateway(self, gateway: dict) -> dict:
        """An ingress gateway with the callers' limits, and outlier detection as a caller's sidecar
        applies it to the services on its listeners (a relay is never ejected)."""
        gateway = copy.deepcopy(gateway)
        services = [s for listener in gateway.get("Listeners", []) for s in listener.get("Services", [])]
        relays = [s for s in services if self.relays(s["Name"])]
        everyone_relays = bool(services) and len(relays) == len(services)
        key = "RelayPassiveHealthCheck" if everyone_relays else "PassiveHealthCheck"
        gateway["Defaults"] = {**self.policy["Limits"], "PassiveHealthCheck": copy.deepcopy(self.policy[key])}
        if not everyone_relays:  # a relay among others: its own outlier detection
            for service in relays:
                service["PassiveHealthCheck"] = self.health_check(service["Name"])
        return gateway


def resolver(name: str, connect_timeout: str, versions: list[str]) -> dict:
    """``name``'s resolver: the connect timeout; for a service in several versions a subset of each
    (its instances' ``meta.version``), the first version the default."""
    body = {"Kind": "service-resolver", "Name": name, "ConnectTimeout": connect_timeout}
    if len(versions) > 1:
        body["DefaultSubset"] = versions[0]
        body["Subsets"] = {version: subset(version) for version in versions}
    return body


def with_failover(resolver: dict, peer: str) -> dict:
    """``resolver`` with every subset (and the service without one) failing over to the same service
    exported by ``peer``: used only when no instance here passes (dc2.yml, ``meshctl.peering``)."""
    return {**copy.deepcopy(resolver), "Failover": {"*": {"Targets": [{"Peer": peer}]}}}


def subset(version: str) -> dict:
    """A resolver's subset of the instances registered with ``meta.version`` = ``version``, and of
    any instance a peer exports. Consul 1.16 applies a subset's filter to the failover target of that
    subset too, and an imported instance carries no Meta: without the second clause a failover to a
    peer would find no instance at all (agent/consul/discoverychain/compile.go, the failover target
    takes the subset of the target it stands for)."""
    return {"Filter": f'Service.Meta.version == "{version}" or Service.PeerName != ""', "OnlyPassing": True}


def splitter(name: str, versions: list[str], weights: dict[str, float] | None = None) -> dict:
    """A service-splitter sending ``weights`` (percent by version, summing to 100) of ``name``'s requests
    to each version's subset; by default all to the first version."""
    weights = weights if weights is not None else {versions[0]: 100}
    return {"Kind": "service-splitter", "Name": name,
            "Splits": [{"Weight": weights.get(version, 0), "ServiceSubset": version} for version in versions]}


# what ends every L7 source's permissions (intentions-default-deny.hcl says why)
DENY_THE_REST = {"Action": "deny", "HTTP": {"PathPrefix": "/"}}


def _completed(entry: Entry, policy: Policy) -> Entry:
    """A hand-written entry with what meshctl adds to it: an ingress gateway's Defaults, and the deny
    that ends each intention source's permissions."""
    body = entry.body
    if body["Kind"] == "ingress-gateway":
        if "Defaults" in body:
            raise EntriesError(f"{entry.source}: its Defaults come from {POLICY_FILE}; do not write them here")
        return Entry(policy.complete_gateway(body), f"{entry.source}, Defaults from {POLICY_FILE}")
    if body["Kind"] == "service-intentions":
        body = copy.deepcopy(body)
        for source in body.get("Sources", []):
            permissions = source.get("Permissions")
            if permissions and permissions[-1].get("HTTP") != {"PathPrefix": "/"}:
                permissions.append(copy.deepcopy(DENY_THE_REST))
        return entry if body == entry.body else Entry(body, f"{entry.source}, each source ended by a deny")
    return entry


def _read_hcl(path: Path) -> dict:
    import hcl  # pyhcl: HCL 1, the dialect Consul's config entries are written in

    try:
        return hcl.loads(path.read_text())
    except OSError as err:
        raise EntriesError(f"{path}: cannot be read ({err.strerror or err})") from None
    except ValueError as err:  # pyhcl's parse errors
        raise EntriesError(f"{path}: not valid HCL: {err}") from None


def write(entry: Entry, consul: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``consul config write`` of the entry's file, or of the entry as JSON on stdin when meshctl
    derived or completed it."""
    source = str(entry.file) if entry.file else "-"
    return subprocess.run([consul, "config", "write", source], input="" if entry.file else json.dumps(entry.body),
                          env=env, capture_output=True, text=True, timeout=30)
