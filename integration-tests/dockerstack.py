"""What the two Docker suites share: containers/ (services.yml) and cluster/ (cluster.yml).

Each suite runs the mesh as a Compose project of its own (its name, host ports and data folder), so
it meets neither a stack someone runs nor the other suite's. A suite describes its project once, as
a ``ComposeProject`` (compose_stack.py, cluster_stack.py); here is how one is brought up, settled
and taken down, the fixtures that reach its Consul as the operator, and the zero-trust probes both
suites make from inside app containers.

A suite's conftest imports the fixtures below, defines ``compose_project = project_fixture(its
ComposeProject)`` and, to print what was measured, ``pytest_terminal_summary = <its project>.summary``.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import consul
import pytest
import requests
from testcontainers.compose import DockerCompose

import leafprobe
import leftovers
import polling
from meshctl import topology

REPO = Path(__file__).resolve().parents[1]
# the images derive their ports and upstreams from the same definitions
MESH = topology.load(REPO / "consul-config")
SERVICES = tuple(MESH)
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def compose(file: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`docker compose -f <file>` in the repository (a suite's project name, ports and data folder are
    in the environment once its stack is up)."""
    return subprocess.run(["docker", "compose", "-f", str(REPO / file), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def session() -> requests.Session:
    """A requests session that goes straight to the host's ports, whatever proxy the environment names."""
    s = requests.Session()
    s.trust_env = False
    return s


@dataclass
class ComposeProject:
    """A suite's Compose project of the mesh. A suite says which of its containers run an Envoy and
    when each knows its upstreams (``envoys``, ``endpoints_problem``); the rest is the same."""

    name: str  # the project's name, not the Compose file's own: the suite never meets a stack someone runs
    file: str  # the Compose file
    url: str  # where browsers come in, on the host
    consul_port: int  # where the Consul HTTPS API is published on the host
    consul_agent: str  # the Consul agent's service whose CA and CLI certificate the operator takes
    data_variable: str  # the variable the file reads the data folder (secrets) from
    variables: dict[str, str]  # the other variables it reads: host ports, subnet
    on_failure: tuple[str, ...]  # services whose last log lines say why a bring-up failed
    settle_timeout: float
    measured: dict[str, str] = field(default_factory=dict)  # bring-up time and memory, for the summary

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return compose(self.file, *args, timeout=timeout)

    def container(self, service: str) -> str:
        return f"{self.name}-{service}-1"

    def logs(self, service: str, lines: int = 30) -> str:
        result = docker("logs", "--tail", str(lines), self.container(service))
        return f"--- last lines of {service}:\n{result.stdout}{result.stderr}"

    def envoys(self) -> list[str]:
        raise NotImplementedError

    def endpoints_problem(self) -> str:
        """What the Envoys do not know yet of their upstreams, or '' when nothing."""
        raise NotImplementedError

    def serving_problem(self) -> str:
        for path in ("/api/users", "/api/products", "/api/orders"):
            try:
                with session() as s:
                    if not s.get(f"{self.url}{path}", timeout=5).ok:
                        return f"{self.url} does not serve every service yet ({path})"
            except requests.RequestException as exc:
                return f"{self.url} does not serve every service yet ({path}: {type(exc).__name__})"
        return ""

    def settled(self, timeout: float | None = None, quiet: float = 4) -> None:
        """Until the mesh is steady (``polling.steady``): every Envoy's container running, healthy and
        quiet, each Envoy knowing what ``endpoints_problem`` asks, the way in serving every service."""
        polling.steady(f"the mesh of {self.file}", self.envoys(), [self.endpoints_problem, self.serving_problem],
                       timeout or self.settle_timeout, quiet)

    def memory_in_use(self) -> tuple[int, int]:
        """Bytes of memory the project's containers use (`docker stats`), and how many containers."""
        names = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={self.name}").stdout.split()
        stats = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", *names, timeout=120).stdout.split("\n")
        used = 0
        for line in filter(None, stats):
            number, unit = re.match(r"([\d.]+)\s*([KMG]?i?B)", line).groups()
            used += int(float(number) * UNITS[unit])
        return used, len(names)

    def summary(self, terminalreporter) -> None:
        for what, value in self.measured.items():
            terminalreporter.write_line(f"{self.file} {what}: {value}")


# --- the fixtures: a suite's conftest imports them, and gives its project as compose_project

def project_fixture(project: ComposeProject):
    """The fixture ``compose_project`` that a suite's conftest defines: its project, which the
    fixtures below bring up and reach."""
    @pytest.fixture(scope="session")
    def compose_project() -> ComposeProject:
        return project
    return compose_project


@pytest.fixture(scope="session")
def stack(pytestconfig, compose_project: ComposeProject):
    """The project brought up (images built from the repository) and settled; at the end taken down,
    containers, networks and volumes, and its data folder deleted. What an earlier, killed run left
    under the project's name is cleared first (leftovers.py)."""
    project = compose_project
    if docker("info", timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (meshctl/docker-engine.sh installs and starts one)")
    data = Path(tempfile.mkdtemp(prefix=f"{project.name}-data-"))
    os.environ.update({"TESTCONTAINERS_RYUK_DISABLED": "true", "COMPOSE_PROJECT_NAME": project.name,
                       project.data_variable: str(data), **project.variables})
    leftovers.clear(project.name, docker, project.compose, pytestconfig)
    env_file = REPO / ".env"
    mesh = DockerCompose(REPO, compose_file_name=project.file, build=True, wait=True,
                         env_file=str(env_file) if env_file.exists() else None, quiet_build=True)
    started = time.monotonic()
    try:
        mesh.start()
        up = time.monotonic() - started
        project.settled()
    except BaseException:
        print("\n".join(project.logs(s) for s in project.on_failure))
        mesh.stop()
        raise
    project.measured["bring-up"] = (f"`up --build --wait` {up:.0f}s, settled (every Envoy knowing its upstreams) "
                                    f"{time.monotonic() - started:.0f}s")
    yield mesh
    used, count = project.memory_in_use()
    project.measured["memory"] = f"{used / 2**20:.0f} MiB in {count} containers (docker stats, at the end)"
    mesh.stop()  # down --volumes: the containers, networks and volumes; the data folder goes below
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def consul_ca(stack, compose_project, tmp_path_factory) -> Path:
    """This mesh's CA certificate, as mesh-secrets made it on first start (public)."""
    path = tmp_path_factory.mktemp("consul-ca") / "consul-agent-ca.pem"
    path.write_text(docker("exec", compose_project.container(compose_project.consul_agent), "cat",
                           "/consul/secrets/tls/consul-agent-ca.pem").stdout)
    return path


@pytest.fixture(scope="session")
def operator_cert(stack, compose_project, tmp_path_factory) -> tuple[str, str]:
    """A client certificate Consul's HTTPS API accepts: the one a Consul agent's own CLI uses."""
    folder = tmp_path_factory.mktemp("operator")
    folder.chmod(0o700)
    for name in ("cli.pem", "cli-key.pem"):
        (folder / name).write_text(docker("exec", compose_project.container(compose_project.consul_agent), "cat",
                                          f"/consul/secrets/{name}").stdout)
    return str(folder / "cli.pem"), str(folder / "cli-key.pem")


@pytest.fixture(scope="session")
def management_token(stack, compose_project) -> str:
    """The management token, by the command docs/containers.md and docs/scale.md give operators."""
    result = compose_project.compose("run", "--rm", "--no-deps", "mesh-init", "token")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def consul_client(stack, compose_project, consul_ca, operator_cert, management_token):
    """Consul's published API over TLS (plain HTTP is off in containers), trusting this mesh's CA
    only, presenting a client certificate, as the operator."""
    return consul.Consul(host="127.0.0.1", port=compose_project.consul_port, scheme="https", verify=str(consul_ca),
                         cert=operator_cert, token=management_token)


@pytest.fixture(scope="session")
def consul_http(stack, compose_project, consul_ca, operator_cert):
    """A request to Consul's published API over TLS with the operator's client certificate, and with
    ``token`` (None: none at all), for what py-consul does not send or check."""
    def request(method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"X-Consul-Token": token} if token else {}
        with session() as http:
            return http.request(method, f"https://127.0.0.1:{compose_project.consul_port}{path}", headers=headers,
                                verify=str(consul_ca), cert=operator_cert, timeout=10, **kwargs)
    return request


@pytest.fixture(scope="session")
def consul_get(consul_http, management_token):
    """GET from Consul's published API as the operator: the answer's JSON, once it said 200."""
    def get(path: str, **params):
        answer = consul_http("GET", path, management_token, params=params)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()
    return get


# --- the zero-trust probes: what no app container may do, whatever it reaches

def assert_no_certificate_or_intention_from(client: consul.Consul, project: ComposeProject, app: str,
                                            service: str, agents: tuple[str, ...], running: dict[str, int]) -> None:
    """From inside ``app``'s container (an instance of ``service``), the attack on every Consul agent
    in ``agents`` (leafprobe.py) yields no service's mesh certificate and changes no intention; every
    agent's HTTPS API opens no TLS session without a client certificate. Only a frontend holds a
    token, its own read-only one, and the gate on its loopback refuses it too. ``running``: how many
    instances of each service the project runs."""
    # every sidecar holds its certificate by now: every agent's cache has every service's
    for name in SERVICES:
        passing = client.health.connect(name, passing=True)[1]
        assert len(passing) == running[name], (name, [p["Service"]["ID"] for p in passing])
    before = client.config.get("service-intentions", "orders")
    seen = leafprobe.attack(project.container(app), SERVICES, leafprobe.consul_addresses(*agents))
    if service == "frontend":  # it holds its own token, read-only, and reaches the gate on its loopback
        assert "/run/consul/token" in seen["tokens"], seen["tokens"]
        gate = [r for r in seen["results"] if r["base"] == "http://127.0.0.1:8500"]
        assert gate and all(r["outcome"] == 403 for r in gate), [r for r in gate if r["outcome"] != 403]
    else:
        assert seen["tokens"] == ["none"], seen["tokens"]
    leaks = [r for r in seen["results"] if r["leaked"] or r["outcome"] == 200]
    assert not leaks, f"{len(leaks)} leaks: " + json.dumps(leaks[:5], indent=1)
    # every agent's HTTPS API, reachable from every app: no TLS session without a client certificate
    for agent in agents:
        https = [r for r in seen["results"] if r["base"] == f"https://{agent}:8501"]
        assert https and all("CERTIFICATE_REQUIRED" in str(r["text"]) or r["outcome"] in ("SSLError", "URLError")
                             for r in https), (agent, https[:3])
    after = client.config.get("service-intentions", "orders")
    assert after["ModifyIndex"] == before["ModifyIndex"]


def assert_no_secret_but_the_frontends_token(project: ComposeProject, apps: list[tuple[str, str]]) -> None:
    """No app container of ``apps`` ((container's service, its mesh service)) can read a client
    certificate, a key or a token, but a frontend its own read-only token."""
    for app, service in apps:
        found = docker("exec", project.container(app), "sh", "-c",
                       "find /run /var /tmp /home /root /consul /secrets /srv /mnt \\( -name '*.pem' -o "
                       "-name '*token*' -o -name '*.key' \\) -readable 2>/dev/null").stdout.split()
        expected = ["/run/consul/token"] if service == "frontend" else []
        assert found == expected, (app, found)


def assert_token_has_its_identity_only(consul_http, project: ComposeProject, holder: str, identity: str,
                                       destination: str) -> None:
    """The token in ``holder``'s container (a sidecar's or gateway's) is ``identity``'s service
    identity and nothing else, and cannot write ``destination``'s intentions."""
    secret = docker("exec", project.container(holder), "cat", "/consul/secrets/service.token").stdout.strip()
    me = consul_http("GET", "/v1/acl/token/self", secret).json()
    assert [s["ServiceName"] for s in me["ServiceIdentities"]] == [identity] and not me.get("Policies"), me
    write = consul_http("PUT", "/v1/config", secret, json={"Kind": "service-intentions", "Name": destination,
                                                           "Sources": [{"Name": "*", "Action": "allow"}]})
    assert write.status_code == 403 and "intention:write" in write.text, write.text
