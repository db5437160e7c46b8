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


def main(command: str) -> int:
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
