"""The mesh at production's shape, brought up from cluster.yml by testcontainers (images built from
the repository): three Consul servers, two nodes' client agents, two instances of every service,
the ingress gateway.

Runs as its own Compose project (shopcluster) on its own host ports, with its own data folder, so
it meets neither a cluster someone runs with cluster.yml nor the other suites' stacks. The time
the cluster took to come up and the memory it holds are printed at the end.
"""

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import consul
import pytest
from testcontainers.compose import DockerCompose

import leftovers

from cluster_stack import (CONSUL_PORT, GATEWAY, INGRESS, INGRESS_PORT, INSTANCES, JAEGER_PORT, NODES, PROJECT,
                           PROMETHEUS_PORT, REPO, SERVERS, SUBNET, compose, container, docker, logs, session, settled)

MEASURED: dict[str, str] = {}
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def memory_in_use() -> tuple[int, int]:
    """Bytes of memory the project's containers use (`docker stats`), and how many containers."""
    names = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
    stats = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", *names, timeout=120).stdout.split("\n")
    used = 0
    for line in filter(None, stats):
        number, unit = re.match(r"([\d.]+)\s*([KMG]?i?B)", line).groups()
        used += int(float(number) * UNITS[unit])
    return used, len(names)


@pytest.fixture(scope="session")
def stack(pytestconfig):
    if docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (meshctl/docker-engine.sh installs and starts one)")
    data = Path(tempfile.mkdtemp(prefix="shop-cluster-data-"))
    os.environ.update({
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "COMPOSE_PROJECT_NAME": PROJECT,
        "CLUSTER_PORT": str(INGRESS_PORT),
        "CLUSTER_CONSUL_PORT": str(CONSUL_PORT),
        "CLUSTER_SUBNET": SUBNET,
        "CLUSTER_PROMETHEUS_PORT": str(PROMETHEUS_PORT),
        "CLUSTER_JAEGER_PORT": str(JAEGER_PORT),
        "CLUSTER_DATA_DIR": str(data),
    })
    leftovers.clear(PROJECT, docker, compose, pytestconfig)
    env_file = REPO / ".env"
    cluster = DockerCompose(REPO, compose_file_name="cluster.yml", build=True, wait=True,
                            env_file=str(env_file) if env_file.exists() else None, quiet_build=True)
    started = time.monotonic()
    try:
        cluster.start()
        up = time.monotonic() - started
        settled()
    except BaseException:
        print("\n".join(logs(s) for s in ("mesh-secrets", "mesh-init", *SERVERS, *NODES, GATEWAY,
                                          *(i.sidecar for i in INSTANCES if i.service == "frontend"))))
        cluster.stop()
        raise
    MEASURED["bring-up"] = (f"`up --build --wait` {up:.0f}s, settled (every Envoy knowing every instance) "
                            f"{time.monotonic() - started:.0f}s")
    yield cluster
    used, count = memory_in_use()
    MEASURED["memory"] = f"{used / 2**20:.0f} MiB in {count} containers (docker stats, at the end)"
    cluster.stop()  # down --volumes: containers, networks and the raft and database volumes
    shutil.rmtree(data, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    for what, value in MEASURED.items():
        terminalreporter.write_line(f"cluster {what}: {value}")


@pytest.fixture(scope="session")
def consul_ca(stack, tmp_path_factory) -> Path:
    """This mesh's CA certificate, as mesh-secrets made it on first start (public)."""
    path = tmp_path_factory.mktemp("consul-ca") / "consul-agent-ca.pem"
    path.write_text(docker("exec", container(SERVERS[0]), "cat", "/consul/secrets/tls/consul-agent-ca.pem").stdout)
    return path


@pytest.fixture(scope="session")
def operator_cert(stack, tmp_path_factory) -> tuple[str, str]:
    """A client certificate Consul's HTTPS API accepts: the one a server's own CLI uses."""
    folder = tmp_path_factory.mktemp("operator")
    folder.chmod(0o700)
    for name in ("cli.pem", "cli-key.pem"):
        (folder / name).write_text(docker("exec", container(SERVERS[0]), "cat", f"/consul/secrets/{name}").stdout)
    return str(folder / "cli.pem"), str(folder / "cli-key.pem")


@pytest.fixture(scope="session")
def management_token(stack) -> str:
    """The management token, by the command the README gives operators."""
    result = compose("run", "--rm", "--no-deps", "mesh-init", "token")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def consul_client(stack, consul_ca, operator_cert, management_token):
    """The published server's API over TLS, presenting a client certificate, as the operator."""
    return consul.Consul(host="127.0.0.1", port=CONSUL_PORT, scheme="https", verify=str(consul_ca),
                         cert=operator_cert, token=management_token)


@pytest.fixture(scope="session")
def ingress(stack) -> str:
    return INGRESS


@pytest.fixture(scope="session")
def consul_get(stack, consul_ca, operator_cert, management_token):
    """GET from the published server's API as the operator, for what py-consul sends no token with."""
    def get(path: str):
        with session() as http:
            answer = http.get(f"https://127.0.0.1:{CONSUL_PORT}{path}", headers={"X-Consul-Token": management_token},
                              verify=str(consul_ca), cert=operator_cert, timeout=10)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()
    return get

