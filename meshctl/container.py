"""Entry points of the images: ``python3 -m meshctl.container <command>`` for service ``$SERVICE``.

Each image carries the service definitions (``$MESH_CONFIG/services``) and derives from them what
``make up`` derives locally: the app's port and upstream URLs, the sidecar's registration and its
Envoy command line. Nothing in services.yml or a Dockerfile repeats them.

  app            exec gunicorn on 127.0.0.1:<port> (``BIND_ADDRESS`` may widen it), upstream URLs set
  app-ready      exit 0 when the app answers its health path (the app image's HEALTHCHECK)
  registration   print the definition for this container's address, as JSON for `consul services register`
  sidecar        exec `consul connect envoy` with the same flags as local mode
  gateway        exec `consul connect envoy -gateway=$GATEWAY -register` for the gateway service $SERVICE
  sidecar-ready  exit 0 when Envoy is live (the sidecar image's HEALTHCHECK; a gateway's too)
  upstreams-ready  exit 0 when Envoy knows a healthy endpoint for every upstream
  passing        exit 0 when Consul's servers list this instance and its sidecar as passing
  knows S N      exit 0 when this Envoy knows N healthy endpoints of service S, or does not call S
                 (a gateway's too; meshctl/rolling-restart.sh asks every Envoy before the next instance)
  forgot S N     exit 0 when this Envoy knows at most N healthy endpoints of S (an instance that left
                 Consul is no longer called; meshctl/rolling-restart.sh asks before stopping its sidecar)
  secrets        (mesh-secrets, before Consul) make every secret into /secrets, one folder per holder
  init           (mesh-init, once Consul runs) bootstrap the ACLs, make the tokens, write the config entries
  token          print the management token, for the operator
  peer-token P   (mesh-init) print a peering token for the peer P, for meshctl.peering to carry (a secret)
  peer-establish P  (mesh-init) establish the peering with P from the token on stdin
  peer-delete P  (mesh-init) delete the peering with P
  peerings       (mesh-init) each peering: its state, what it imports and exports
  failover S P   (mesh-init) S's resolver fails over to the peer P's S (P "-": no failover)

The secrets' folders (``$SECRETS``, /secrets; ``${DATA_DIR}/secrets/mesh`` on the host), each owned
by the only user that reads it and mounted only where it is needed:

  authority/          root    both CAs with their keys (never mounted anywhere else)
  init/               root    the management token, the other tokens' secrets, mesh-init's client certificate
  consul/             consul  gossip key, Consul's TLS settings, server certificate, the clients' CA certificate,
                              a client certificate for its own CLI (health check)
  ca/                 public  Consul's CA certificate: every sidecar trusts Consul by it
  <service>-sidecar/  envoy   the service's token and the sidecar's client certificate
  frontend/           app     the frontend's read-only token
  prometheus/         nobody  the Prometheus container's client certificate (for Consul's HTTPS API), then from
                              mesh-init its ``prometheus`` token (catalogue read) and the prometheus.yml using both

That is services.yml's one Consul agent and one instance of each service. cluster.yml describes its
own in the environment of these steps (``Layout``): a folder per Consul agent instead of
``consul/``, named after its node (``server-1/`` … with copies of the server certificate, which
names every server; ``node-1/`` … with a client agent certificate of their own), one per instance's
sidecar (``users-1-sidecar/`` …, every instance of a service holding the service's one token), and
one per gateway instance, one on each node (``ingress-gateway-1/`` …: the gateway's one token and
each instance's own client certificate, like a sidecar's).
"""

import json
import os
import socket
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from meshctl import envoy_admin, launch
from meshctl.topology import Service, TopologyError, instances, load


def service() -> Service:
    """The instance this container runs: ``SERVICE`` is its definition's id (``products``, or
    ``products-v2`` for another version's)."""
    name = os.environ.get("SERVICE", "").strip()
    if not name:
        raise SystemExit("set SERVICE to the service this container runs")
    known = {i.id: i for i in instances(load(Path(os.environ.get("MESH_CONFIG", "/consul-config"))))}
    if name not in known:
        raise SystemExit(f"SERVICE={name} has no service definition (known: {', '.join(known)})")
    return known[name]


def sidecar_folders(layout: "Layout", service: Service) -> list[str]:
    """The secrets folders of every sidecar of ``service``, its other versions' included: each holds
    the service's one token."""
    return [folder for instance in service.instances for folder in layout.sidecars(instance.id)]


def container_ip(consul_host: str) -> str:
    """The address other containers reach this network namespace at."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((consul_host, 8500))  # no packet is sent: this only picks the outgoing interface
        return s.getsockname()[0]


def other_address(own: str) -> str | None:
    """This network namespace's IPv4 address on its other network: a mesh gateway's on the network
    the datacenters share (dc2.yml's wan), ``own`` being its address in its own datacenter."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, interface in socket.if_nameindex():
            try:  # SIOCGIFADDR: the interface's address
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", interface.encode()[:15]))
            except OSError:  # no IPv4 address
                continue
            address = socket.inet_ntoa(packed[20:24])
            if interface != "lo" and address != own:
                return address
    return None


SECRETS = Path(os.environ.get("SECRETS", "/secrets"))
CONSUL_UID, APP_UID, ENVOY_UID = 100, 10001, 10002  # the images' users: Consul's, apps/Dockerfile's, envoy/Dockerfile's
PROMETHEUS_UID = 65534  # nobody: Prometheus' image runs as it (its own and make images' stand-in)
PROMETHEUS_MOUNT = Path("/etc/prometheus/mesh")  # where the prometheus container mounts its folder
MOUNTED = Path("/consul/secrets")  # where the consul and sidecar containers find their folder
GATEWAY_ADMIN_PORT = 19000  # a gateway's Envoy admin, on its container's loopback
GATEWAY_READY_PORT = 21000  # the port a gateway registers with: Envoy's ready listener, which Consul's check probes
MESH_GATEWAY_PORT = 8443  # a mesh gateway's listeners, on both its addresses (Consul's check probes the first)


@dataclass(frozen=True)
class Layout:
    """Who holds the mesh's secrets: services.yml's one Consul agent named consul and one instance of
    each service (the defaults), or what cluster.yml and dc2.yml say in the mesh steps' environment."""
    servers: tuple[str, ...] = ("consul",)
    clients: tuple[str, ...] = ()  # client agents, one per node
    instances: int = 1
    gateways: tuple[str, ...] = ()
    single: tuple[str, ...] = ()  # gateways that run once, not on every node (a mesh gateway)
    services: tuple[str, ...] = ()  # the services that run here; none said: every one defined

    @classmethod
    def from_env(cls) -> "Layout":
        """``MESH_SERVERS``, ``MESH_CLIENT_AGENTS``, ``MESH_GATEWAYS`` (names, space-separated; a gateway
        that runs once, whatever the nodes, is written ``name:1``), ``MESH_INSTANCES``, ``MESH_SERVICES``."""
        def names(variable: str, default: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(os.environ.get(variable, " ".join(default)).split())
        gateways = names("MESH_GATEWAYS", ())
        return cls(names("MESH_SERVERS", cls.servers), names("MESH_CLIENT_AGENTS", ()),
                   int(os.environ.get("MESH_INSTANCES", "1")), tuple(g.split(":")[0] for g in gateways),
                   tuple(g.split(":")[0] for g in gateways if g.endswith(":1")), names("MESH_SERVICES", ()))

    @property
    def agents(self) -> tuple[str, ...]:
        """Every Consul agent, by node name: its folder's name and its host name."""
        return self.servers + self.clients

    def mesh(self, defined: dict[str, Service]) -> dict[str, Service]:
        """The services of ``defined`` that run here (dc2.yml runs some of them only)."""
        unknown = sorted(set(self.services) - set(defined))
        if unknown:
            raise SystemExit(f"MESH_SERVICES names {', '.join(unknown)}, which have no service definition")
        return {name: s for name, s in defined.items() if not self.services or name in self.services}

    def sidecars(self, service: str) -> list[str]:
        """The folders of ``service``'s sidecars, one per instance."""
        if self.instances == 1:
            return [f"{service}-sidecar"]
        return [f"{service}-{n}-sidecar" for n in range(1, self.instances + 1)]

    def gateway_instances(self, gateway: str) -> list[str]:
        """The folders of ``gateway``'s instances, one per node like a service's (``ingress-gateway-1`` …),
        or its one (``mesh-gateway``)."""
        if self.instances == 1 or gateway in self.single:
            return [gateway]
        return [f"{gateway}-{n}" for n in range(1, self.instances + 1)]


def make_secrets() -> int:
    """Every secret, made when missing, into one folder per holder (see the module's docstring)."""
    from meshctl import secrets

    layout = Layout.from_env()
    mesh = layout.mesh(load(Path(os.environ.get("MESH_CONFIG", "/consul-config"))))
    consul_bin = "consul"
    authority = secrets.private_folder(SECRETS / "authority")
    tls, clients = secrets.private_folder(authority / "tls"), secrets.private_folder(authority / "clients")
    # one server certificate for every server, valid for each one's name
    new_tls = secrets.server_tls(consul_bin, tls, dns_names=layout.servers)
    if new_tls:
        print(f"mesh-secrets: made this mesh's CA and Consul's server certificate (named {', '.join(layout.servers)})")
    renew = secrets.client_ca(consul_bin, clients)
    holders = {"init": (0, "init")} | {agent: (CONSUL_UID, "cli") for agent in layout.agents}
    holders |= {folder: (ENVOY_UID, "client") for service in mesh.values() for folder in sidecar_folders(layout, service)}
    holders |= {folder: (ENVOY_UID, "client")
                for gateway in layout.gateways for folder in layout.gateway_instances(gateway)}
    holders |= {"prometheus": (PROMETHEUS_UID, "client")}  # Consul's API, to find what to scrape
    for folder, (owner, holder) in holders.items():
        into = secrets.private_folder(SECRETS / folder, owner)
        secrets.client_cert(consul_bin, clients, holder, into, owner, renew=renew)
    secrets.private_folder(SECRETS / "frontend", APP_UID)
    # the first server's folder keeps the gossip key; every other agent gets a copy
    gossip = secrets.private_folder(SECRETS / layout.servers[0], CONSUL_UID) / "gossip.hcl"
    if not gossip.exists():
        secrets.gossip_key(consul_bin, gossip.parent)
        print("mesh-secrets: generated the gossip encryption key")
    os.chown(gossip, CONSUL_UID, CONSUL_UID)
    for agent in layout.agents:
        agent_folder(layout, agent, tls, clients, gossip, renew_cert=new_tls)
    public = SECRETS / "ca"
    public.mkdir(exist_ok=True)
    public.chmod(0o755)
    secrets.write_secret(public / secrets.SERVER_CA, (tls / secrets.SERVER_CA).read_text(), mode=0o644)
    print(f"mesh-secrets: every secret is in place ({', '.join(sorted(p.name for p in SECRETS.iterdir()))})")
    return 0


def agent_folder(layout: Layout, agent: str, tls: Path, clients: Path, gossip: Path, renew_cert: bool) -> None:
    """A Consul agent's folder: copies of what it serves with (a server's certificate, or a client
    agent's own), the gossip key, and its TLS settings naming the mounted paths."""
    from meshctl import secrets

    folder = SECRETS / agent
    (folder / "tls").mkdir(exist_ok=True)
    names = [secrets.SERVER_CA]
    if agent in layout.servers:
        names += [secrets.SERVER_CERT, secrets.SERVER_KEY]
        cert, key = secrets.SERVER_CERT, secrets.SERVER_KEY
    else:
        secrets.agent_cert("consul", tls, agent, folder / "tls", CONSUL_UID, renew=renew_cert)
        cert, key = secrets.AGENT_CERT, secrets.AGENT_KEY
    for name in names:
        secrets.write_secret(folder / "tls" / name, (tls / name).read_text(), CONSUL_UID)
    secrets.write_secret(folder / secrets.CLIENT_CA, (clients / secrets.CLIENT_CA).read_text(), CONSUL_UID)
    os.chown(folder / "tls", CONSUL_UID, CONSUL_UID)
    os.chmod(folder / "tls", 0o700)
    if folder / "gossip.hcl" != gossip:
        secrets.write_secret(folder / "gossip.hcl", gossip.read_text(), CONSUL_UID)
    secrets.write_secret(folder / "tls.hcl", secrets.agent_config(MOUNTED / "tls", MOUNTED, cert, key), CONSUL_UID)


def init() -> int:
    """Once Consul answers: ACLs bootstrapped, one token per identity written to its holder's folder,
    the config entries written. Safe to run again: it finishes what a cut-short run left."""
    import time

    from meshctl import acl, entries, secrets
    from meshctl.consul_api import Consul, ConsulError

    layout = Layout.from_env()
    config_dir = Path(os.environ.get("MESH_CONFIG", "/consul-config"))
    try:  # before anything is changed: a policy that cannot be derived says so at once
        only = os.environ.get("MESH_ENTRIES", "").split()  # dc2.yml's: these files, nothing derived
        config = entries.load(config_dir, only) if only else entries.load(config_dir)
    except (entries.EntriesError, TopologyError) as err:
        print(f"mesh-init: {err}", file=sys.stderr)
        return 1
    init_dir = SECRETS / "init"
    anonymous = init_api()
    deadline = time.monotonic() + 120
    while not anonymous.leader():
        if time.monotonic() > deadline:
            print(f"mesh-init: Consul at {anonymous.address} has no leader after 120s", file=sys.stderr)
            return 1
        time.sleep(1)
    mesh = layout.mesh(load(config_dir))
    try:
        management = anonymous.with_token(acl.bootstrap(anonymous, init_dir / "management.token"))
        plan = acl.Plan(list(layout.agents), list(mesh), {}, gateways=list(layout.gateways))
        # the first instance's folder keeps the service's secret; the others get copies below
        plan.files = {name: SECRETS / sidecar_folders(layout, service)[0] / "service.token"
                      for name, service in mesh.items()}
        plan.files |= {gateway: SECRETS / layout.gateway_instances(gateway)[0] / "service.token"
                       for gateway in layout.gateways}
        plan.files |= {name: init_dir / f"{name}.token" for name in plan.agents()}
        plan.files |= {"observer": init_dir / "observer.token", "frontend-read": SECRETS / "frontend" / "token",
                       "prometheus": SECRETS / "prometheus" / "token"}
        owners = ({name: ENVOY_UID for name in (*mesh, *layout.gateways)}
                  | {"frontend-read": APP_UID, "prometheus": PROMETHEUS_UID})
        # each agent takes its own token through its own API (services.yml's one agent: the one above)
        agents = None if len(layout.agents) == 1 else {
            node: Consul(f"https://{node}:8501", anonymous.ca_file, anonymous.cert_file, anonymous.key_file,
                         management.token) for node in layout.agents}
        tokens = acl.ensure(management, plan, owners, agents)
        for name, service in mesh.items():
            for folder in sidecar_folders(layout, service)[1:]:
                secrets.write_secret(SECRETS / folder / "service.token", tokens[name] + "\n", ENVOY_UID)
        for gateway in layout.gateways:
            for folder in layout.gateway_instances(gateway)[1:]:
                secrets.write_secret(SECRETS / folder / "service.token", tokens[gateway] + "\n", ENVOY_UID)
    except (ConsulError, OSError, secrets.SecretsError) as err:
        print(f"mesh-init: setting up the ACLs failed: {err}", file=sys.stderr)
        return 1
    print(f"mesh-init: ACLs bootstrapped; tokens for: {', '.join(i.name for i in plan.identities())}")
    prometheus_config(layout)
    env = os.environ | {"CONSUL_CACERT": str(anonymous.ca_file), "CONSUL_CLIENT_CERT": str(anonymous.cert_file),
                        "CONSUL_CLIENT_KEY": str(anonymous.key_file),
                        "CONSUL_HTTP_TOKEN_FILE": str(init_dir / "management.token")}
    # the hand-written entries and those derived from resilience.hcl, as make up writes them
    for entry in config:
        result = entries.write(entry, "consul", env)
        if result.returncode != 0:
            print(f"mesh-init: consul config write {entry.key} ({entry.source}) failed: {result.stderr.strip()}",
                  file=sys.stderr)
            return 1
    print(f"mesh-init: config entries written: {', '.join(e.key for e in config)}")
    return 0


def prometheus_config(layout: Layout) -> None:
    """prometheus.yml in Prometheus' folder: Consul's HTTPS API on the first server, with its client
    certificate and its own token (meshctl.metrics)."""
    from meshctl import metrics, secrets

    folder = PROMETHEUS_MOUNT
    text = metrics.config(f"{layout.servers[0]}:8501", folder / "token",
                          tls=(Path("/etc/prometheus/ca") / secrets.SERVER_CA, folder / "client.pem",
                               folder / "client-key.pem"))
    secrets.write_secret(SECRETS / "prometheus" / "prometheus.yml", text, PROMETHEUS_UID)


def gateway() -> None:
    """exec the gateway's Envoy: ``consul connect envoy -register`` registers it at this container's
    address with its own token, then runs Envoy."""
    name, kind = os.environ.get("SERVICE", "").strip(), os.environ.get("GATEWAY", "").strip()
    if not (name and kind):
        raise SystemExit("set SERVICE to the gateway's service name and GATEWAY to its kind (ingress, mesh)")
    consul_host = os.environ.get("CONSUL_HTTP_ADDR", "https://consul:8501").split("://")[-1].split(":")[0]
    own, wan = container_ip(consul_host), None
    address = f"{own}:{GATEWAY_READY_PORT}"
    if kind == "mesh":  # it listens on its own network and on the one the datacenters share
        wan = other_address(own)
        if wan is None:
            raise SystemExit(f"mesh gateway {name}: no address besides {own}: put it on the datacenters' shared network")
        address, wan = f"{own}:{MESH_GATEWAY_PORT}", f"{wan}:{MESH_GATEWAY_PORT}"
    argv = launch.gateway_argv(kind, name, address, GATEWAY_ADMIN_PORT,
                               os.environ.get("CONSUL_GRPC_ADDR", "https://consul:8503"),
                               os.environ.get("CONSUL_CACERT", "/consul/ca/consul-agent-ca.pem"),
                               str(MOUNTED / "service.token"), log_level=os.environ.get("ENVOY_LOG_LEVEL", "warn"),
                               wan_address=wan)
    os.execvp(argv[0], argv)


def passing(me: Service) -> int:
    """0 when the servers' health view (what every caller's Envoy is fed from) lists this instance,
    at this container's address, with its service and its sidecar passing every check."""
    from meshctl.consul_api import Consul  # the sidecar image's; the app images do not carry it
    address = os.environ.get("CONSUL_HTTP_ADDR", "https://consul:8501")
    consul = Consul(address, Path(os.environ.get("CONSUL_CACERT", "/consul/ca/consul-agent-ca.pem")),
                    Path(os.environ.get("CONSUL_CLIENT_CERT", MOUNTED / "client.pem")),
                    Path(os.environ.get("CONSUL_CLIENT_KEY", MOUNTED / "client-key.pem")),
                    (MOUNTED / "service.token").read_text().strip())
    ip = container_ip(address.split("://")[-1].split(":")[0])
    for name in (me.name, f"{me.name}-sidecar-proxy"):
        entries = consul.get(f"/v1/health/service/{name}?passing=1") or []
        if not any(entry["Service"]["Address"] == ip for entry in entries):
            print(f"{name} at {ip} is not passing on Consul's servers yet", file=sys.stderr)
            return 1
    return 0


def knows(upstream: str | None = None, count: str | None = None, at_most: bool = False) -> int:
    """0 when this container's Envoy (a sidecar's or a gateway's) knows ``count`` healthy endpoints of
    ``upstream`` (``at_most``: no more than ``count``), or does not call it at all."""
    if not (upstream and count and count.isdigit()):
        print(f"usage: {'forgot' if at_most else 'knows'} SERVICE COUNT", file=sys.stderr)
        return 2
    admin_port = GATEWAY_ADMIN_PORT if os.environ.get("GATEWAY") else service().admin_port
    seen = envoy_admin.healthy_endpoints(admin_port)
    if seen is None:
        print("Envoy does not answer on its admin listener", file=sys.stderr)
        return 1
    held = seen.get(upstream)
    if held is not None and (held > int(count) if at_most else held < int(count)):
        wanted = f"at most {count}" if at_most else count
        print(f"Envoy knows {held} healthy {upstream} endpoints, not {wanted}", file=sys.stderr)
        return 1
    return 0


def init_api():
    """Consul's API as mesh-init reaches it: the first server, with mesh-init's client certificate
    and no token yet."""
    from meshctl import secrets
    from meshctl.consul_api import Consul

    init_dir = SECRETS / "init"
    return Consul(os.environ.get("CONSUL_HTTP_ADDR", "https://consul:8501"), SECRETS / "ca" / secrets.SERVER_CA,
                  init_dir / "init.pem", init_dir / "init-key.pem")


def management():
    """mesh-init's API with the management token (the peering steps)."""
    return init_api().with_token((SECRETS / "init" / "management.token").read_text().strip())


def peering_command(command: str, args: list[str]) -> int:
    """The peering steps meshctl.peering runs in each datacenter's mesh-init (meshctl.peers)."""
    from meshctl import entries, peers
    from meshctl.consul_api import ConsulError

    usage = {"peer-token": 1, "peer-establish": 1, "peer-delete": 1, "peerings": 0, "failover": 2}
    if len(args) != usage[command]:
        print(__doc__, file=sys.stderr)
        return 2
    consul = management()
    try:
        if command == "peer-token":
            sys.stdout.write(peers.token(consul, args[0]) + "\n")  # to the pipe meshctl.peering reads
        elif command == "peer-establish":
            peers.establish(consul, args[0], sys.stdin.read())
        elif command == "peer-delete":
            peers.delete(consul, args[0])
        elif command == "peerings":
            for found in peers.peerings(consul):
                print(found.line())
        else:
            service, peer = args
            config = entries.load(Path(os.environ.get("MESH_CONFIG", "/consul-config")))
            resolver = next((e.body for e in config if e.key == f"service-resolver/{service}"), None)
            if resolver is None:
                print(f"{service} has no resolver: no service calls it", file=sys.stderr)
                return 1
            written = peers.failover(consul, resolver, None if peer == "-" else peer)
            print(f"service-resolver/{service}: " + (f"fails over to {peer}" if "Failover" in written else "no failover"))
    except (peers.PeeringError, ConsulError, OSError) as err:
        print(f"{command}: {err}", file=sys.stderr)
        return 1
    return 0


def main(command: str) -> int:
    if command in ("peer-token", "peer-establish", "peer-delete", "peerings", "failover"):
        return peering_command(command, sys.argv[2:])
    if command == "secrets":
        return make_secrets()
    if command == "init":
        return init()
    if command == "token":
        print((SECRETS / "init" / "management.token").read_text().strip())
        return 0
    if command in ("knows", "forgot"):
        return knows(*sys.argv[2:4], at_most=command == "forgot")
    if os.environ.get("GATEWAY"):  # a gateway has no service definition of its own
        if command == "gateway":
            gateway()
        if command == "sidecar-ready":
            return 0 if envoy_admin.ready(GATEWAY_ADMIN_PORT) else 1
    me = service()
    if command == "app":
        bind = f"{os.environ.get('BIND_ADDRESS', '127.0.0.1')}:{me.port}"
        argv = launch.app_argv(me, bind)
        metrics = Path(os.environ.get(launch.METRICS_DIR_ENV, "/tmp/metrics"))
        metrics.mkdir(parents=True, exist_ok=True)
        # cluster.yml names each instance (products-1 ...) and another datacenter its own
        who = me.app_env(os.environ.get("SERVICE_INSTANCE", "").strip() or None,
                         os.environ.get("SERVICE_DATACENTER", "").strip() or "dc1")
        os.execvpe(argv[0], argv, os.environ | who | {launch.METRICS_DIR_ENV: str(metrics)})
    if command == "app-ready":
        with urllib.request.urlopen(f"http://127.0.0.1:{me.port}{me.health_path}", timeout=2):
            return 0  # urlopen raises for anything but a 2xx
    if command == "registration":
        consul_host = os.environ.get("CONSUL_HTTP_ADDR", "http://consul:8500").split("://")[-1].split(":")[0]
        definition = me.container_definition(container_ip(consul_host))
        collector = os.environ.get("TRACE_COLLECTOR", "").strip()  # host:port of OTLP/gRPC, when traces are on
        if collector:
            from meshctl import traces  # the sidecar image's; the app images do not carry it

            host, port = collector.rsplit(":", 1)
            proxy = definition["service"]["connect"]["sidecar_service"].setdefault("proxy", {})
            proxy["config"] = {**(proxy.get("config") or {}), **traces.envoy_config(me.sidecar_id, host, int(port))}
        print(json.dumps(definition, indent=2))
        return 0
    if command == "sidecar":
        argv = launch.sidecar_argv(me, os.environ.get("CONSUL_GRPC_ADDR", "https://consul:8503"),
                                   os.environ.get("CONSUL_CACERT", "/consul/ca/consul-agent-ca.pem"),
                                   str(MOUNTED / "service.token"),
                                   log_level=os.environ.get("ENVOY_LOG_LEVEL", "warn"))
        os.execvp(argv[0], argv)
    if command == "sidecar-ready":
        return 0 if envoy_admin.live(me) else 1
    if command == "passing":
        return passing(me)
    if command == "upstreams-ready":
        missing = envoy_admin.upstreams_without_endpoints(me)
        if missing:
            print(f"{me.name}'s sidecar has no healthy endpoint for: {', '.join(missing)}", file=sys.stderr)
        return 0 if missing == [] else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
