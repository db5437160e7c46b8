"""Names and helpers for the container suite: its Compose project, ports, docker commands."""

import subprocess
import time
from pathlib import Path

import pytest
import requests

from meshctl import topology

REPO = Path(__file__).resolve().parents[2]
# the images derive their ports and upstreams from the same definitions
MESH = topology.load(REPO / "consul-config")
PROJECT = "shoptest"
FRONTEND_PORT = 15001
CONSUL_PORT = 18500


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`docker compose` on the test project (its name, ports and data folder are in the environment)."""
    return subprocess.run(["docker", "compose", "-f", str(REPO / "services.yml"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def container(service: str) -> str:
    return f"{PROJECT}-{service}-1"


def logs(service: str, lines: int = 30) -> str:
    result = docker("logs", "--tail", str(lines), container(service))
    return f"--- last lines of {service}:\n{result.stdout}{result.stderr}"


def settled(timeout: float = 90, quiet: float = 4) -> None:
    """Until the mesh in containers is steady: every sidecar running and healthy, none (re)started in
    the last ``quiet`` seconds, each knowing a healthy endpoint for its upstreams, and the frontend
    serving every service.

    After an app container restarts, its sidecar restarts too, sometimes twice (its namespace
    watchdog and Compose's `depends_on: restart`), so one good answer is not yet a settled mesh.
    """
    sidecars = [container(f"{name}-sidecar") for name in MESH]
    deadline = time.monotonic() + timeout
    last, since, why = None, time.monotonic(), "not checked yet"
    while time.monotonic() < deadline:
        state = docker("inspect", "-f", "{{.State.Status}} {{.State.StartedAt}} {{.State.Health.Status}}",
                       *sidecars).stdout.split("\n")
        if state != last:
            last, since = state, time.monotonic()
        if not all(line.split()[0::2] == ["running", "healthy"] for line in state if line):
            why = f"sidecars not all running and healthy: {state}"
        elif time.monotonic() - since < quiet:
            why = f"a sidecar (re)started in the last {quiet:g}s: {state}"
        elif missing := [s.name for s in MESH.values() if s.upstreams and docker(
                "exec", container(f"{s.name}-sidecar"), "python3", "-m", "meshctl.container",
                "upstreams-ready").returncode != 0]:
            why = f"sidecars without a healthy endpoint for every upstream: {missing}"
        elif not all(_serves(path) for path in ("/api/users", "/api/products", "/api/orders")):
            why = "the frontend does not serve every service yet"
        else:
            return
        time.sleep(0.5)
    pytest.fail(f"the mesh in containers did not settle within {timeout:g}s: {why}")


def _serves(path: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{FRONTEND_PORT}{path}", timeout=5).ok
    except requests.RequestException:
        return False
