"""A throwaway Consul server for unit tests: the binary `make consul` builds, ACLs on with default
deny and bootstrapped with a known management token, its HTTPS API asking for client certificates
as the mesh's does, plus a plain-HTTP port on loopback for tests that stand in for the gate.

    consul = start(tmp_path)        # about two seconds
    consul.management               # the management token's secret
    consul.https / consul.http      # meshctl.consul_api.Consul clients (https one presents a client cert)
    consul.token(rules=..., services=[...])   # a new token's secret
    consul.stop()

The ``throwaway_consul`` fixture (session-wide) starts one for a whole test run.
"""

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from meshctl import secrets
from meshctl.consul_api import Consul

REPO = Path(__file__).resolve().parents[3]
CONSUL_BIN = Path(os.environ.get("CONSUL_BIN", REPO / ".cache" / "consul" / "consul"))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class ThrowawayConsul:
    folder: Path
    process: subprocess.Popen
    http: Consul
    https: Consul
    grpc_tls: str
    management: str

    @property
    def log(self) -> str:
        return (self.folder / "consul.log").read_text(errors="replace")[-3000:]

    def token(self, rules: str | None = None, services: tuple[str, ...] = (), description: str = "test") -> str:
        """A new token with a policy of ``rules`` and/or service identities; its secret."""
        admin = self.https.with_token(self.management)
        body = {"Description": description, "ServiceIdentities": [{"ServiceName": s} for s in services]}
        if rules:
            policy = admin.call("PUT", "/v1/acl/policy", {"Name": f"test-{uuid.uuid4().hex[:12]}", "Rules": rules})
            body["Policies"] = [{"ID": policy["ID"]}]
        return admin.call("PUT", "/v1/acl/token", body)["SecretID"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(folder: Path, timeout: float = 30) -> ThrowawayConsul:
    if not CONSUL_BIN.exists():
        pytest.skip(f"no Consul binary at {CONSUL_BIN} (make consul builds it)")
    tls, clients = secrets.private_folder(folder / "tls"), secrets.private_folder(folder / "clients")
    secrets.server_tls(CONSUL_BIN, tls)
    secrets.client_ca(CONSUL_BIN, clients)
    cert, key = secrets.client_cert(CONSUL_BIN, clients, "test", clients)
    http, https, grpc_tls, server, serf = _free_ports(5)
    config = folder / "agent.hcl"
    config.write_text(
        f'server = true\nbootstrap_expect = 1\nnode_name = "throwaway"\ndatacenter = "dc1"\n'
        f'bind_addr = "127.0.0.1"\nclient_addr = "127.0.0.1"\ndata_dir = "{folder / "data"}"\n'
        f'ports {{\n  http = {http}\n  https = {https}\n  grpc = -1\n  grpc_tls = {grpc_tls}\n'
        f'  dns = -1\n  server = {server}\n  serf_lan = {serf}\n  serf_wan = -1\n}}\n'
        f'connect {{\n  enabled = true\n}}\nperformance {{\n  raft_multiplier = 1\n}}\n'
        f'acl {{\n  enabled = true\n  default_policy = "deny"\n  enable_token_persistence = true\n}}\n'
        + secrets.agent_config(tls, clients))
    with open(folder / "consul.log", "w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([str(CONSUL_BIN), "agent", "-config-file", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT)
    https_api = Consul(f"https://127.0.0.1:{https}", tls / secrets.SERVER_CA, cert, key)
    consul = ThrowawayConsul(folder, process, Consul(f"http://127.0.0.1:{http}"), https_api,
                             f"https://127.0.0.1:{grpc_tls}", "")
    deadline = time.monotonic() + timeout
    while not https_api.leader():
        if process.poll() is not None or time.monotonic() > deadline:
            consul.stop()
            raise RuntimeError(f"the throwaway Consul did not elect itself leader in {timeout:g}s:\n{consul.log}")
        time.sleep(0.2)
    from meshctl import acl
    consul.management = acl.bootstrap(https_api, folder / "management.token")
    return consul


@pytest.fixture(scope="session")
def throwaway_consul(tmp_path_factory):
    consul = start(tmp_path_factory.mktemp("consul"))
    yield consul
    consul.stop()
