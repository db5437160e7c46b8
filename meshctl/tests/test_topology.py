"""The topology is derived from the service definitions alone: a new definition is all a service needs."""

import json
import os
import subprocess
import sys

import pytest

from meshctl import launch, topology
from meshctl.tests.conftest import REPO


def test_the_shop_in_the_order_it_starts():
    mesh = topology.load(REPO / "consul-config")
    assert list(mesh) == ["users", "products", "orders", "frontend"]  # each after what it calls
    orders = mesh["orders"]
    assert (orders.port, orders.sidecar_port, orders.admin_port, orders.expose_port) == (5004, 21004, 19004, 21104)
    assert orders.upstream_env() == {"USERS_URL": "http://127.0.0.1:8102", "PRODUCTS_URL": "http://127.0.0.1:8103"}
    assert orders.wsgi_app == "orders:create_app()" and orders.health_path == "/healthcheck"
    assert mesh["users"].upstreams == ()


def test_each_app_is_told_who_it_is_for_served_by():
    mesh = topology.load(REPO / "consul-config")
    assert {name: service.version for name, service in mesh.items()} == dict.fromkeys(mesh, "v1")
    assert mesh["products"].app_env() == {"SERVICE_VERSION": "v1", "SERVICE_DATACENTER": "dc1",
                                          "SERVICE_INSTANCE": "products"}
    orders = mesh["orders"].app_env("orders-2", "dc2")
    assert orders == orders | mesh["orders"].upstream_env()
    assert (orders["SERVICE_INSTANCE"], orders["SERVICE_DATACENTER"]) == ("orders-2", "dc2")
    # the datacenter an app names by default is the one make up's agent runs
    assert 'datacenter       = "dc1"' in (REPO / "consul-config" / "agent.hcl").read_text()


def test_a_definition_names_its_version_in_its_meta(mesh_config):
    _edit(mesh_config, "users", lambda s: s["meta"].update(version="v3"))
    assert topology.load(mesh_config)["users"].version == "v3"


def test_a_fifth_service_needs_only_its_definition(with_fifth_service):
    mesh = topology.load(with_fifth_service)
    inventory = mesh["inventory"]
    assert list(mesh).index("inventory") > list(mesh).index("products")
    assert inventory.upstream_env() == {"PRODUCTS_URL": "http://127.0.0.1:8105"}
    assert inventory.ports() == {5005, 21005, 19005, 21105, 8105}
    assert launch.app_argv(inventory, "127.0.0.1:5005")[-1] == "inventory:create_app()"
    sidecar = launch.sidecar_argv(inventory, "https://127.0.0.1:8503", "ca.pem", "inventory.token")
    assert sidecar[sidecar.index("-sidecar-for") + 1] == "inventory"
    assert sidecar[sidecar.index("-admin-bind") + 1] == "127.0.0.1:19005"


def test_a_sidecar_runs_one_envoy_worker_unless_told_otherwise(with_fifth_service, monkeypatch):
    inventory = topology.load(with_fifth_service)["inventory"]

    def workers() -> str:
        argv = launch.sidecar_argv(inventory, "https://127.0.0.1:8503", "ca.pem", "inventory.token")
        assert argv.index("--concurrency") > argv.index("--")  # Envoy's own flag, after consul's
        return argv[argv.index("--concurrency") + 1]
    monkeypatch.delenv(launch.SIDECAR_CONCURRENCY_ENV, raising=False)
    assert workers() == "1"
    monkeypatch.setenv(launch.SIDECAR_CONCURRENCY_ENV, "2")
    assert workers() == "2"
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(launch.SIDECAR_CONCURRENCY_ENV, bad)
        with pytest.raises(ValueError, match="ENVOY_SIDECAR_CONCURRENCY"):
            workers()
    gateway = launch.gateway_argv("ingress", "ingress-gateway", "10.0.0.5:21000", 19000, "https://node-1:8503",
                                  "ca.pem", "gw.token")
    assert "--concurrency" not in gateway  # Envoy's default: one per core


def test_an_app_runs_two_gunicorn_workers_unless_told_otherwise(with_fifth_service, monkeypatch):
    inventory = topology.load(with_fifth_service)["inventory"]

    def workers() -> str:
        argv = launch.app_argv(inventory, "127.0.0.1:5005")
        return argv[argv.index("--workers") + 1]
    monkeypatch.delenv(launch.APP_WORKERS_ENV, raising=False)
    assert workers() == "2"
    monkeypatch.setenv(launch.APP_WORKERS_ENV, "1")
    assert workers() == "1"
    for bad in ("0", "one", "-1", "1.5"):
        monkeypatch.setenv(launch.APP_WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="APP_WORKERS"):
            workers()


@pytest.mark.parametrize("setting", [launch.APP_WORKERS_ENV, launch.SIDECAR_CONCURRENCY_ENV])
def test_make_up_stops_before_starting_anything_on_a_count_it_cannot_use(monkeypatch, capsys, setting):
    from meshctl import local

    def started(*_args, **_kwargs):
        raise AssertionError("make up started Consul with a setting it cannot use")
    monkeypatch.setattr(local, "start_consul", started)
    monkeypatch.setenv(setting, "none")
    assert local.up() == 1
    said = capsys.readouterr().err
    assert "make up FAILED" in said and setting in said and "'none'" in said, said


def test_make_plan_shows_what_up_would_start_for_it(with_fifth_service):
    result = subprocess.run([sys.executable, "-m", "meshctl", "plan"], cwd=REPO, capture_output=True, text=True,
                            env=os.environ | {"MESH_CONFIG": str(with_fifth_service)}, timeout=60)
    assert result.returncode == 0, result.stderr
    block = result.stdout[result.stdout.index("inventory  (services/inventory.json; inventory v1)"):]
    assert "127.0.0.1:5005  gunicorn --bind 127.0.0.1:5005" in block
    assert "upstream  PRODUCTS_URL=http://127.0.0.1:8105" in block
    assert "mTLS :21005  Envoy admin :19005  health via :21105/healthcheck" in block


def _edit(config, name, change):
    path = config / "services" / f"{name}.json"
    definition = json.loads(path.read_text())
    change(definition["service"])
    path.write_text(json.dumps(definition))


def _as(service: dict, name: str, service_id: str) -> None:
    """``service`` renamed, with its sidecar's alias check, which names the id too."""
    service.update(name=name, id=service_id)
    for check in service["connect"]["sidecar_service"]["checks"]:
        if "alias_service" in check:
            check["alias_service"] = service_id


@pytest.mark.parametrize("name, change, message", [
    ("users", lambda s: s["meta"].pop("envoy_admin_port"), "users.json: service.meta.envoy_admin_port is required"),
    ("users", lambda s: s.pop("meta"), "users.json: service.meta.envoy_admin_port is required"),
    ("users", lambda s: s["connect"]["sidecar_service"]["proxy"].pop("expose"), "must expose the check's path"),
    ("orders", lambda s: s["connect"]["sidecar_service"]["proxy"]["upstreams"].append(
        {"destination_name": "payments", "local_bind_port": 8104}), "upstream 'payments' has no service definition"),
    ("orders", lambda s: s["connect"]["sidecar_service"]["proxy"]["upstreams"][0].update(local_bind_port=8012),
     "port 8012 is already used by"),
    ("users", lambda s: _as(s, "products", "products"), "service id 'products' is also defined in"),
    # a fact stated twice must agree, or gunicorn would listen where Consul and Envoy do not look
    ("users", lambda s: s.update(port=5012), "the port in service.check.http is 5002, but service.port is 5012"),
    ("users", lambda s: _as(s, "users", "users-1"), "users-1 is another instance of 'users', which has no definition "
     "with id 'users'"),
    ("users", lambda s: _as(s, "users", "shoppers"), "service.id is 'shoppers': it must be service.name 'users'"),
    ("users", lambda s: _as(s, "users", "users") or s["connect"]["sidecar_service"]["checks"][1].update(
        alias_service="orders"), "checks\\[\\].alias_service is 'orders', but service.id is 'users'"),
    ("orders", lambda s: s["connect"]["sidecar_service"].update(port=21014),
     "the port in connect.sidecar_service.checks\\[\\].tcp is 21004"),
])
def test_a_definition_the_mesh_cannot_run_is_refused_by_name(mesh_config, name, change, message):
    _edit(mesh_config, name, change)
    with pytest.raises(topology.TopologyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        topology.load(mesh_config)


def test_another_version_is_an_instance_of_the_same_service():
    mesh = topology.load(REPO / "consul-config")
    assert list(mesh) == ["users", "products", "orders", "frontend"]
    products = mesh["products"]
    assert [(i.id, i.version, i.port, i.sidecar_id) for i in products.instances] == [
        ("products", "v1", 5003, "products-sidecar-proxy"), ("products-v2", "v2", 5013, "products-v2-sidecar-proxy")]
    assert products.versions == ["v1", "v2"]
    assert products.others[0].app_env()["SERVICE_INSTANCE"] == "products-v2"


@pytest.mark.parametrize("change, message", [
    (lambda s: s["meta"].update(version="v1"), "another version of products must name a version of its own"),
    (lambda s: s["connect"]["sidecar_service"]["proxy"].update(
        upstreams=[{"destination_name": "users", "local_bind_port": 8113}]), "and call the same services"),
    (lambda s: s["meta"].pop("version"), "products runs in several versions, so each of its definitions names"),
    (lambda s: s.update(port=5004), "the port in service.check.http is 5013, but service.port is 5004"),
    (lambda s: s["meta"].update(envoy_admin_port="19003"), "port 19003 is already used by products"),
])
def test_another_version_that_cannot_run_beside_the_first_is_refused(mesh_config, change, message):
    _edit(mesh_config, "products-v2", change)
    with pytest.raises(topology.TopologyError, match=message):
        topology.load(mesh_config)


def test_invalid_json_names_the_file(mesh_config):
    (mesh_config / "services" / "users.json").write_text('{"service": {')
    with pytest.raises(topology.TopologyError, match="users.json: not valid JSON"):
        topology.load(mesh_config)


def test_in_a_container_consul_reaches_the_app_through_the_expose_listener():
    users = topology.load(REPO / "consul-config")["users"]
    registered = users.container_definition("172.18.0.5")["service"]
    assert registered["address"] == "172.18.0.5"
    assert registered["check"]["http"] == "http://172.18.0.5:21102/healthcheck"
    listening = [c for c in registered["connect"]["sidecar_service"]["checks"] if "tcp" in c]
    assert listening and all(c["tcp"] == "172.18.0.5:21002" for c in listening)
    # upstream listeners and the sidecar's way to its app stay on the namespace's loopback
    assert registered["connect"]["sidecar_service"]["proxy"]["local_service_address"] == "127.0.0.1"
    assert users.definition["service"]["address"] == "127.0.0.1"  # the loaded definition is untouched


def test_a_caller_in_a_second_version_calls_the_same_services_on_ports_of_its_own(mesh_config):
    text = (mesh_config / "services" / "orders.json").read_text().replace('"id": "orders"', '"id": "orders-v2"')
    text = text.replace('"version": "v1"', '"version": "v2"').replace("Aliasing orders", "Aliasing orders-v2")
    text = text.replace('"alias_service": "orders"', '"alias_service": "orders-v2"')
    for port in ("5004", "21004", "19004", "21104", "19104", "21204", "8102", "8103"):
        text = text.replace(port, str(int(port) + 20))
    (mesh_config / "services" / "orders-v2.json").write_text(text)
    orders = topology.load(mesh_config)["orders"]
    assert orders.versions == ["v1", "v2"]
    assert [(u.service, u.port) for u in orders.others[0].upstreams] == [("users", 8122), ("products", 8123)]
