"""Names and helpers for the container suite: its Compose project, ports, docker commands."""

import subprocess
from pathlib import Path

import requests

import polling
from meshctl import topology

REPO = Path(__file__).resolve().parents[2]
# the images derive their ports and upstreams from the same definitions
MESH = topology.load(REPO / "consul-config")
PROJECT = "shoptest"
FRONTEND_PORT = 15001
CONSUL_PORT = 18500
PROMETHEUS_PORT = 19090
JAEGER_PORT = 16696


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
    """Until the mesh in containers is steady (``polling.steady``): every sidecar running and healthy
    and quiet, each knowing a healthy endpoint for its upstreams, the frontend serving every service."""
    def missing_endpoints() -> str:
        missing = [s.name for s in MESH.values() if s.upstreams and docker(
            "exec", container(f"{s.name}-sidecar"), "python3", "-m", "meshctl.container",
            "upstreams-ready").returncode != 0]
        return f"sidecars without a healthy endpoint for every upstream: {missing}" if missing else ""

    def not_serving() -> str:
        if all(_serves(path) for path in ("/api/users", "/api/products", "/api/orders")):
            return ""
        return "the frontend does not serve every service yet"

    polling.steady("the mesh in containers", [container(f"{name}-sidecar") for name in MESH],
                   [missing_endpoints, not_serving], timeout, quiet)


def _serves(path: str) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{FRONTEND_PORT}{path}", timeout=5).ok
    except requests.RequestException:
        return False
