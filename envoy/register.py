"""Print consul-config/services/<service>.hcl adapted to a container.

The definitions are written for local mode, where everything shares 127.0.0.1. In a container the
service and its sidecar are registered with the container's own address, and the app listens only on
127.0.0.1 inside its network namespace, which Consul cannot reach: so the HTTP health check goes
through an Envoy "expose" listener that serves nothing but the check path. Upstream listeners and
the sidecar's way to its app stay on 127.0.0.1.
"""

import re
import socket
import sys
from pathlib import Path

EXPOSE_BASE = 21100  # users 5002 -> 21102, ...: next to the sidecar ports 2100x


def container_ip() -> str:
    """The address other containers reach this network namespace at."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("consul", 8500))  # no packet is sent: this only picks the outgoing interface
        return s.getsockname()[0]


def adapt(text: str, ip: str) -> str:
    check = re.search(r'\bhttp\s*=\s*"http://127\.0\.0\.1:(\d+)(/[^"]*)"', text)
    if not check:
        raise SystemExit("register: no HTTP check on 127.0.0.1 in the service definition")
    app_port, path = int(check.group(1)), check.group(2)
    expose_port = EXPOSE_BASE + app_port % 100
    text = re.sub(r'(\n\s*address\s*=\s*)"127\.0\.0\.1"', rf'\1"{ip}"', text, count=1)
    text = text.replace(check.group(0), f'http = "http://{ip}:{expose_port}{path}"')
    text = re.sub(r'(\btcp\s*=\s*)"127\.0\.0\.1:', rf'\1"{ip}:', text)
    expose = (f'        expose {{\n          paths = [\n'
              f'            {{ path = "{path}", local_path_port = {app_port}, '
              f'listener_port = {expose_port}, protocol = "http" }},\n          ]\n        }}\n')
    text, count = re.subn(r'(\n(\s*)proxy\s*\{\n)', lambda m: m.group(1) + expose, text, count=1)
    if count != 1:
        raise SystemExit("register: no proxy block in the service definition")
    return text


if __name__ == "__main__":
    service = sys.argv[1]
    source = Path("/consul-config/services") / f"{service}.hcl"
    print(adapt(source.read_text(), container_ip()))
