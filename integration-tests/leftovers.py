"""Clearing a Compose project the suite owns of what an earlier run left behind.

A run that was killed (Ctrl-C twice, kill -9, a CI job's time-out) never reaches its `down`. Its
containers and named volumes stay under the project's name, and the next `up` would reuse them:
Consul servers that find the old run's raft data, with the old run's peers and addresses, next to
a new run's CA. So a suite clears its project before it starts, and says when there was anything.
"""

import subprocess
from typing import Callable

import pytest

Run = Callable[..., subprocess.CompletedProcess]
KINDS = {"containers": ("ps", "-aq"), "volumes": ("volume", "ls", "-q"), "networks": ("network", "ls", "-q")}


def clear(project: str, docker: Run, compose: Run, config: pytest.Config) -> None:
    """Remove the containers, volumes and networks labelled with ``project``, saying what was found."""
    def left() -> dict[str, int]:
        label = f"label=com.docker.compose.project={project}"
        counts = {kind: len(docker(*command, "--filter", label).stdout.split()) for kind, command in KINDS.items()}
        return {kind: count for kind, count in counts.items() if count}

    found = left()
    if not found:
        return
    with config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"==> {project}: an earlier run left " + ", ".join(f"{n} {kind}" for kind, n in found.items())
            + "; removing them (docker compose down --volumes)")
    result = compose("down", "--volumes", "--remove-orphans")
    assert result.returncode == 0, f"could not clear the {project} project: {result.stderr}"
    still = left()
    assert not still, f"{project}: still there after docker compose down --volumes: {still}"
