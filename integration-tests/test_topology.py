"""Consul reads the service definitions itself; what it made of them must be what meshctl.topology
derives from them. Two readers of one source: if they ever disagree, these tests say where."""

import subprocess

import pytest

from conftest import MESH, REPO, dump
from meshctl import topology
from meshctl.local import CONSUL_BIN, MANAGEMENT, consul_env

FIFTH = REPO / "meshctl" / "tests" / "fifth-service" / "inventory.json"


def as_consul_sees_it(client, service_id: str) -> dict:
    """The facts topology derives, as the Consul agent registered them."""
    service = client.agent.services()[service_id]
    sidecar = client.agent.services()[f"{service_id}-sidecar-proxy"]
    checks = [c for c in client.agent.checks().values() if c["ServiceID"] == service_id]
    proxy = sidecar["Proxy"]
    return {
        "name": service["Service"], "version": service["Meta"]["version"],
        "address": service["Address"], "port": service["Port"], "sidecar_port": sidecar["Port"],
        "admin_port": int(service["Meta"]["envoy_admin_port"]), "wsgi_app": service["Meta"]["wsgi_app"],
        "checks": sorted(c["Type"] for c in checks),
        "expose": [(p["Path"], p["LocalPathPort"], p["ListenerPort"]) for p in (proxy.get("Expose") or {}).get("Paths") or []],
        "local_service_port": proxy.get("LocalServicePort"),
        "upstreams": [(u["DestinationName"], u.get("LocalBindAddress") or "127.0.0.1", u["LocalBindPort"])
                      for u in proxy.get("Upstreams") or []],
    }


def as_derived(service: topology.Service) -> dict:
    return {
        "name": service.name, "version": service.version,
        "address": service.address, "port": service.port, "sidecar_port": service.sidecar_port,
        "admin_port": service.admin_port, "wsgi_app": service.wsgi_app,
        "checks": ["http"],
        "expose": [(service.health_path, service.port, service.expose_port)]
                  + ([("/metrics", service.port, service.app_metrics_port)] if service.app_metrics_port else []),
        "local_service_port": service.port,
        "upstreams": [(u.service, u.address, u.port) for u in service.upstreams],
    }


@pytest.mark.parametrize("instance", topology.instances(MESH), ids=lambda i: i.id)
def test_consul_and_the_topology_module_read_the_same_definition(consul_client, instance):
    seen, derived = as_consul_sees_it(consul_client, instance.id), as_derived(instance)
    assert seen == derived, f"Consul:\n{dump(seen)}\nmeshctl.topology:\n{dump(derived)}"


def test_a_fifth_service_is_derived_and_registered_from_its_definition_alone(consul_client, tmp_path):
    """Drop a definition in, change no code: the runner derives it and Consul registers it the same."""
    import shutil

    config = tmp_path / "consul-config"
    shutil.copytree(REPO / "consul-config", config)
    shutil.copy(FIFTH, config / "services")
    inventory = topology.load(config)["inventory"]
    register = subprocess.run([str(CONSUL_BIN), "services", "register", str(config / "services" / FIFTH.name)],
                              capture_output=True, text=True, env=consul_env(MANAGEMENT), timeout=30)
    assert register.returncode == 0, register.stdout + register.stderr
    try:
        seen = as_consul_sees_it(consul_client, "inventory")
        assert seen == as_derived(inventory), dump(seen)
    finally:
        subprocess.run([str(CONSUL_BIN), "services", "deregister", str(config / "services" / FIFTH.name)],
                       capture_output=True, env=consul_env(MANAGEMENT), timeout=30)
    assert not {"inventory", "inventory-sidecar-proxy"} & set(consul_client.agent.services())
