"""The mesh at production's shape, brought up from cluster.yml by testcontainers (images built from
the repository): three Consul servers, two nodes' client agents, two instances of every service,
the ingress gateway.

Runs as its own Compose project (shopcluster) on its own host ports, with its own data folder, so
it meets neither a cluster someone runs with cluster.yml nor the other suites' stacks (dockerstack.py:
the bring-up, and the fixtures that reach Consul, which the container suite shares). The time the
cluster took to come up and the memory it holds are printed at the end.
"""

import pytest

from cluster_stack import INGRESS, STACK
from dockerstack import project_fixture
from dockerstack import (consul_ca, consul_client, consul_get, consul_http, management_token,  # noqa: F401
                         operator_cert, stack)  # the fixtures both Docker suites share

compose_project = project_fixture(STACK)
pytest_terminal_summary = STACK.summary  # the bring-up's time and the memory held


@pytest.fixture(scope="session")
def ingress(stack) -> str:
    return INGRESS
