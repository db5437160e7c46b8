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
def with_fifth_service(mesh_config) -> Path:
    """consul-config/ plus a throwaway `inventory` service that calls products: a definition, nothing else."""
    shutil.copy(FIFTH, mesh_config / "services")
    return mesh_config
