"""Names and helpers for the container suite: its Compose project, ports, docker commands."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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
