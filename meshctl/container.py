"""Entry points of the images: ``python3 -m meshctl.container <command>`` for service ``$SERVICE``.

Each image carries the service definitions (``$MESH_CONFIG/services``) and derives from them what
``make up`` derives locally: the app's port and upstream URLs, the sidecar's registration and its
Envoy command line. Nothing in services.yml or a Dockerfile repeats them.

  app            exec gunicorn on 127.0.0.1:<port> (``BIND_ADDRESS`` may widen it), upstream URLs set
  app-ready      exit 0 when the app answers its health path (the app image's HEALTHCHECK)
  registration   print the definition for this container's address, as JSON for `consul services register`
  sidecar        exec `consul connect envoy` with the same flags as local mode
  sidecar-ready  exit 0 when Envoy is live (the sidecar image's HEALTHCHECK)
  upstreams-ready  exit 0 when Envoy knows a healthy endpoint for every upstream
  secrets        (mesh-secrets, before Consul) make every secret into /secrets, one folder per holder
  init           (mesh-init, once Consul runs) bootstrap the ACLs, make the tokens, write the config entries
  token          print the management token, for the operator

The secrets' folders (``$SECRETS``, /secrets; ``${DATA_DIR}/secrets/mesh`` on the host), each owned
by the only user that reads it and mounted only where it is needed:

  authority/          root    both CAs with their keys (never mounted anywhere else)
  init/               root    the management token, the other tokens' secrets, mesh-init's client certificate
  consul/             consul  gossip key, Consul's TLS settings, server certificate, the clients' CA certificate,
                              a client certificate for its own CLI (health check)
  ca/                 public  Consul's CA certificate: every sidecar trusts Consul by it
  <service>-sidecar/  envoy   the service's token and the sidecar's client certificate
  frontend/           app     the frontend's read-only token
"""

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path

from meshctl import envoy_admin, launch
from meshctl.topology import Service, load


def service() -> Service:
    name = os.environ.get("SERVICE", "").strip()
    if not name:
        raise SystemExit("set SERVICE to the service this container runs")
    mesh = load(Path(os.environ.get("MESH_CONFIG", "/consul-config")))
    if name not in mesh:
        raise SystemExit(f"SERVICE={name} has no service definition (known: {', '.join(mesh)})")
    return mesh[name]


def container_ip(consul_host: str) -> str:
    """The address other containers reach this network namespace at."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((consul_host, 8500))  # no packet is sent: this only picks the outgoing interface
        return s.getsockname()[0]


SECRETS = Path(os.environ.get("SECRETS", "/secrets"))
CONSUL_UID, APP_UID, ENVOY_UID = 100, 10001, 10002  # the images' users: Consul's, apps/Dockerfile's, envoy/Dockerfile's
MOUNTED = Path("/consul/secrets")  # where the consul and sidecar containers find their folder


def make_secrets() -> int:
    """Every secret, made when missing, into one folder per holder (see the module's docstring)."""
    from meshctl import secrets

    consul_bin = "consul"
    authority, consul = secrets.private_folder(SECRETS / "authority"), secrets.private_folder(SECRETS / "consul")
    tls, clients = secrets.private_folder(authority / "tls"), secrets.private_folder(authority / "clients")
    if secrets.server_tls(consul_bin, tls, dns_names=("consul",)):
        print("mesh-secrets: made this mesh's CA and Consul's server certificate (named consul)")
    renew = secrets.client_ca(consul_bin, clients)
    holders = {"init": (0, "init"), "consul": (CONSUL_UID, "cli")}
    holders |= {f"{name}-sidecar": (ENVOY_UID, "client") for name in load(Path(os.environ.get("MESH_CONFIG", "/consul-config")))}
    for folder, (owner, holder) in holders.items():
        into = secrets.private_folder(SECRETS / folder, owner)
        secrets.client_cert(consul_bin, clients, holder, into, owner, renew=renew)
    secrets.private_folder(SECRETS / "frontend", APP_UID)
    # Consul's own folder: copies of what it serves with, and its settings naming the mounted paths
    (consul / "tls").mkdir(exist_ok=True)
    for name in (secrets.SERVER_CA, secrets.SERVER_CERT, secrets.SERVER_KEY):
        secrets.write_secret(consul / "tls" / name, (tls / name).read_text(), CONSUL_UID)
    secrets.write_secret(consul / secrets.CLIENT_CA, (clients / secrets.CLIENT_CA).read_text(), CONSUL_UID)
    os.chown(consul / "tls", CONSUL_UID, CONSUL_UID)
    os.chmod(consul / "tls", 0o700)
    if not (consul / "gossip.hcl").exists():
        secrets.gossip_key(consul_bin, consul)
        print("mesh-secrets: generated the gossip encryption key")
    os.chown(consul / "gossip.hcl", CONSUL_UID, CONSUL_UID)
    secrets.write_secret(consul / "tls.hcl", secrets.agent_config(MOUNTED / "tls", MOUNTED), CONSUL_UID)
    public = SECRETS / "ca"
    public.mkdir(exist_ok=True)
    public.chmod(0o755)
    secrets.write_secret(public / secrets.SERVER_CA, (tls / secrets.SERVER_CA).read_text(), mode=0o644)
    print(f"mesh-secrets: every secret is in place ({', '.join(sorted(p.name for p in SECRETS.iterdir()))})")
    return 0


def init() -> int:
    """Once Consul answers: ACLs bootstrapped, one token per identity written to its holder's folder,
    the config entries written. Safe to run again: it finishes what a cut-short run left."""
    import subprocess
    import time

    from meshctl import acl, secrets
    from meshctl.consul_api import Consul, ConsulError

    init_dir = SECRETS / "init"
    anonymous = Consul(os.environ.get("CONSUL_HTTP_ADDR", "https://consul:8501"), SECRETS / "ca" / secrets.SERVER_CA,
                       init_dir / "init.pem", init_dir / "init-key.pem")
    deadline = time.monotonic() + 120
    while not anonymous.leader():
        if time.monotonic() > deadline:
            print(f"mesh-init: Consul at {anonymous.address} has no leader after 120s", file=sys.stderr)
            return 1
        time.sleep(1)
    mesh = load(Path(os.environ.get("MESH_CONFIG", "/consul-config")))
    try:
        management = anonymous.with_token(acl.bootstrap(anonymous, init_dir / "management.token"))
        plan = acl.Plan("consul", list(mesh), {})
        plan.files = {name: SECRETS / f"{name}-sidecar" / "service.token" for name in mesh}
        plan.files |= {"agent": init_dir / "agent.token", "observer": init_dir / "observer.token",
                       "frontend-read": SECRETS / "frontend" / "token"}
        owners = {name: ENVOY_UID for name in mesh} | {"frontend-read": APP_UID}
        acl.ensure(management, plan, owners)
    except (ConsulError, OSError, secrets.SecretsError) as err:
        print(f"mesh-init: setting up the ACLs failed: {err}", file=sys.stderr)
        return 1
    print(f"mesh-init: ACLs bootstrapped; tokens for: {', '.join(i.name for i in plan.identities())}")
    env = os.environ | {"CONSUL_CACERT": str(anonymous.ca_file), "CONSUL_CLIENT_CERT": str(anonymous.cert_file),
                        "CONSUL_CLIENT_KEY": str(anonymous.key_file),
                        "CONSUL_HTTP_TOKEN_FILE": str(init_dir / "management.token")}
    entries = Path(os.environ.get("MESH_CONFIG", "/consul-config")) / "config-entries"
    # proxy-defaults first: L7 intentions need protocol http
    for entry in sorted(entries.glob("*.hcl"), key=lambda f: (not f.name.startswith("proxy-defaults"), f.name)):
        result = subprocess.run(["consul", "config", "write", str(entry)], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"mesh-init: consul config write {entry.name} failed: {result.stderr.strip()}", file=sys.stderr)
            return 1
    print("mesh-init: config entries written")
    return 0


def main(command: str) -> int:
    if command == "secrets":
        return make_secrets()
    if command == "init":
        return init()
    if command == "token":
        print((SECRETS / "init" / "management.token").read_text().strip())
        return 0
    me = service()
    if command == "app":
        bind = f"{os.environ.get('BIND_ADDRESS', '127.0.0.1')}:{me.port}"
        argv = launch.app_argv(me, bind)
        os.execvpe(argv[0], argv, os.environ | me.upstream_env())
    if command == "app-ready":
        with urllib.request.urlopen(f"http://127.0.0.1:{me.port}{me.health_path}", timeout=2):
            return 0  # urlopen raises for anything but a 2xx
    if command == "registration":
        consul_host = os.environ.get("CONSUL_HTTP_ADDR", "http://consul:8500").split("://")[-1].split(":")[0]
        print(json.dumps(me.container_definition(container_ip(consul_host)), indent=2))
        return 0
    if command == "sidecar":
        argv = launch.sidecar_argv(me, os.environ.get("CONSUL_GRPC_ADDR", "https://consul:8503"),
                                   os.environ.get("CONSUL_CACERT", "/consul/ca/consul-agent-ca.pem"),
                                   str(MOUNTED / "service.token"),
                                   log_level=os.environ.get("ENVOY_LOG_LEVEL", "warn"))
        os.execvp(argv[0], argv)
    if command == "sidecar-ready":
        return 0 if envoy_admin.live(me) else 1
    if command == "upstreams-ready":
        missing = envoy_admin.upstreams_without_endpoints(me)
        if missing:
            print(f"{me.name}'s sidecar has no healthy endpoint for: {', '.join(missing)}", file=sys.stderr)
        return 0 if missing == [] else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
