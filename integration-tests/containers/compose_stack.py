"""The container suite's Compose project of services.yml (one Consul agent, one instance of each
service) on host ports of its own, and the names its tests use (dockerstack.py does the rest)."""

from dockerstack import MESH, REPO, ComposeProject, docker  # noqa: F401  (the suite's tests take them from here)
from meshctl.topology import instances

PROJECT = "shoptest"
FRONTEND_PORT = 15001
CONSUL_PORT = 18500
PROMETHEUS_PORT = 19090
JAEGER_PORT = 16696


class Containers(ComposeProject):
    def envoys(self) -> list[str]:
        return [self.container(f"{instance.id}-sidecar") for instance in instances(MESH)]

    def endpoints_problem(self) -> str:
        missing = [s.name for s in MESH.values() if s.upstreams and docker(
            "exec", self.container(f"{s.name}-sidecar"), "python3", "-m", "meshctl.container",
            "upstreams-ready").returncode != 0]
        return f"sidecars without a healthy endpoint for every upstream: {missing}" if missing else ""


STACK = Containers(
    name=PROJECT, file="services.yml", url=f"http://127.0.0.1:{FRONTEND_PORT}", consul_port=CONSUL_PORT,
    consul_agent="consul", data_variable="DATA_DIR",
    variables={"FRONTEND_PORT": str(FRONTEND_PORT), "CONSUL_PORT": str(CONSUL_PORT),
               "PROMETHEUS_PORT": str(PROMETHEUS_PORT), "JAEGER_PORT": str(JAEGER_PORT)},
    on_failure=("consul", "users", "users-sidecar", "mesh-secrets", "mesh-init", "frontend-sidecar"),
    settle_timeout=90)
compose, container, logs, settled = STACK.compose, STACK.container, STACK.logs, STACK.settled
