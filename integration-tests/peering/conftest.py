"""Two datacenters in containers (docs/peering.md): dc1 from cluster.yml, brought up and settled as
the cluster suite brings its own (cluster_stack.py, under this suite's project name, host ports and
subnet), then dc2 from dc2.yml and the peering, by the operators' command (`python3 -m
meshctl.peering up`, which `make peering-up` runs). Both are taken down at the end; the time they
took to come up and the memory each holds are printed.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# this suite's dc1: not the cluster suite's project, ports or subnet; its ports below the kernel's
# ephemeral range (32768-60999), where a client's passing connection once held 38686 as Jaeger's came up
os.environ.update({"SUITE_CLUSTER_PROJECT": "shoppeer", "SUITE_CLUSTER_PORTS": "26000",
                   "SUITE_CLUSTER_SUBNET": "10.213.2.0/24"})
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))

from cluster_stack import INGRESS, PORTS, PROJECT, REPO, STACK, ComposeProject, docker  # noqa: E402
from dockerstack import project_fixture  # noqa: E402
from dockerstack import (consul_ca, consul_client, consul_get, consul_http, management_token,  # noqa: E402,F401
                         operator_cert, stack)
from meshctl import peering  # noqa: E402

DC2_PROJECT = f"{PROJECT}-dc2"
DC2_CONSUL_PORT = PORTS + 601

compose_project = project_fixture(STACK)


class DC2:
    """dc2.yml's project, as the tests reach it: its containers, and its mesh-init's view."""

    name = DC2_PROJECT

    def container(self, service: str) -> str:
        return f"{self.name}-{service}-1"

    def logs(self, service: str, lines: int = 30) -> str:
        result = docker("logs", "--tail", str(lines), self.container(service))
        return f"--- last lines of dc2's {service}:\n{result.stdout}{result.stderr}"


DC2_STACK = DC2()


def pytest_terminal_summary(terminalreporter):
    STACK.summary(terminalreporter)


@pytest.fixture(scope="session")
def peered(stack, pytestconfig):
    """dc2 up and peered with dc1 by `python3 -m meshctl.peering up` (dc1, already up, is only
    checked by its `up --wait`); dc2 taken down at the end, before dc1."""
    data = Path(tempfile.mkdtemp(prefix=f"{DC2_PROJECT}-data-"))
    os.environ.update({"DC1_PROJECT": PROJECT, "DC2_PROJECT": DC2_PROJECT, "DC2_DATA_DIR": str(data),
                       "DC2_CONSUL_PORT": str(DC2_CONSUL_PORT)})
    peering.compose(peering.DC2, "down", "--volumes", "--remove-orphans")  # what a killed run left
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "meshctl.peering", "up"], cwd=REPO, capture_output=True,
                            text=True, timeout=1200)
    took = time.monotonic() - started
    print(result.stdout[-3000:])
    if result.returncode != 0:
        print(result.stderr[-3000:])
        print("\n".join(DC2_STACK.logs(s) for s in ("mesh-init", "server-1", "node-1", "mesh-gateway",
                                                     "products-sidecar")))
        print(STACK.logs("mesh-gateway"))
        peering.compose(peering.DC2, "down", "--volumes", "--remove-orphans")
        pytest.fail(f"`python3 -m meshctl.peering up` failed ({result.returncode})")
    STACK.measured["dc2 and the peering"] = f"`meshctl.peering up` {took:.0f}s (dc2 up, peered, failover written)"
    yield peering
    dc2 = ComposeProject.memory_in_use(DC2_STACK)  # its containers, by its project's label
    STACK.measured["dc2 memory"] = f"{dc2[0] / 2**20:.0f} MiB in {dc2[1]} containers (docker stats, at the end)"
    peering.compose(peering.DC2, "down", "--volumes", "--remove-orphans")
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def ingress(stack) -> str:
    return INGRESS
