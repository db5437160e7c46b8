"""What the cluster (cluster.yml) adds to the one-agent layouts, and that those stay as they were."""

import pytest

from meshctl import acl, launch, secrets
from meshctl.container import Layout
from meshctl.consul_api import Consul

SERVICES = ["users", "products", "orders", "frontend"]


def test_a_plan_with_one_node_keeps_the_one_agent_token():
    plan = acl.Plan(["consul"], SERVICES)
    assert plan.agents() == {"agent": "consul"}
    agent = plan.identities()[0]
    assert agent.body()["Description"] == "agent: the Consul agent on node consul"
    assert agent.body()["NodeIdentities"] == [{"NodeName": "consul", "Datacenter": "dc1"}]
    assert [i.name for i in plan.identities()] == ["agent", *SERVICES, "frontend-read", "observer", "prometheus"]


def test_a_plan_with_several_nodes_gives_each_agent_its_own_node_identity():
    plan = acl.Plan(["server-1", "node-1"], SERVICES, gateways=["ingress-gateway"])
    identities = {i.name: i.body() for i in plan.identities()}
    assert plan.agents() == {"agent-server-1": "server-1", "agent-node-1": "node-1"}
    assert identities["agent-node-1"]["NodeIdentities"] == [{"NodeName": "node-1", "Datacenter": "dc1"}]
    assert identities["ingress-gateway"]["ServiceIdentities"] == [{"ServiceName": "ingress-gateway"}]
    assert not identities["ingress-gateway"]["Policies"]


def test_several_nodes_need_each_agents_api():
    plan = acl.Plan(["server-1", "node-1"], [], {})
    with pytest.raises(ValueError, match="each one's agent"):
        acl.ensure(Consul("https://127.0.0.1:1"), plan)


def test_the_default_layout_is_services_yml(monkeypatch):
    for variable in ("MESH_SERVERS", "MESH_CLIENT_AGENTS", "MESH_INSTANCES", "MESH_GATEWAYS"):
        monkeypatch.delenv(variable, raising=False)
    layout = Layout.from_env()
    assert layout.agents == ("consul",) and layout.gateways == ()
    assert layout.sidecars("users") == ["users-sidecar"]
    assert layout.gateway_instances("ingress-gateway") == ["ingress-gateway"]


def test_the_cluster_layout_names_a_folder_per_agent_and_instance(monkeypatch):
    monkeypatch.setenv("MESH_SERVERS", "server-1 server-2 server-3")
    monkeypatch.setenv("MESH_CLIENT_AGENTS", "node-1 node-2")
    monkeypatch.setenv("MESH_INSTANCES", "2")
    monkeypatch.setenv("MESH_GATEWAYS", "ingress-gateway")
    layout = Layout.from_env()
    assert layout.agents == ("server-1", "server-2", "server-3", "node-1", "node-2")
    assert layout.sidecars("users") == ["users-1-sidecar", "users-2-sidecar"]
    assert layout.gateways == ("ingress-gateway",)
    # a gateway on every node, as every service has an instance on every node
    assert layout.gateway_instances("ingress-gateway") == ["ingress-gateway-1", "ingress-gateway-2"]


def test_a_client_agents_tls_settings_name_its_own_certificate(tmp_path):
    assert secrets.agent_config(tmp_path, tmp_path) == secrets.agent_config(
        tmp_path, tmp_path, secrets.SERVER_CERT, secrets.SERVER_KEY)
    text = secrets.agent_config(tmp_path, tmp_path, secrets.AGENT_CERT, secrets.AGENT_KEY)
    assert f'cert_file = "{tmp_path / "agent.pem"}"' in text and "verify_incoming = true" in text


def test_a_gateway_runs_the_same_envoy_as_a_sidecar():
    argv = launch.gateway_argv("ingress", "ingress-gateway", "10.0.0.5:21000", 19000, "https://node-1:8503",
                               "/ca.pem", "/t/service.token")
    assert argv[:8] == ["consul", "connect", "envoy", "-gateway", "ingress", "-register", "-service", "ingress-gateway"]
    assert argv[argv.index("-ignore-envoy-compatibility"):] == launch.envoy_flags("warn")
    assert "-token-file" in argv and "/t/service.token" in argv
