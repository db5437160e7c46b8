import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIFTH = Path(__file__).parent / "fifth-service" / "inventory.json"


@pytest.fixture
def mesh_config(tmp_path) -> Path:
    """A copy of consul-config/ to change freely."""
    folder = tmp_path / "consul-config"
    shutil.copytree(REPO / "consul-config", folder)
    return folder


@pytest.fixture
def consul_env(monkeypatch, throwaway_consul):
    """The operators' commands pointed at the throwaway Consul's plain-HTTP port, with no token of
    their own yet (what the consul CLI would find in the environment, cleared)."""
    for name in ("CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY",
                 "CONSUL_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONSUL_HTTP_ADDR", throwaway_consul.http.address)
    return monkeypatch


@pytest.fixture
def with_fifth_service(mesh_config) -> Path:
    """consul-config/ plus a throwaway `inventory` service that calls products: a definition, nothing else."""
    shutil.copy(FIFTH, mesh_config / "services")
    return mesh_config
