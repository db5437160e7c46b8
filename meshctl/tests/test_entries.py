"""The config entries meshctl writes: the hand-written ones as they are (or completed), and the
resilience entries derived from consul-config/resilience.hcl and the service definitions."""

import json

import pytest

from meshctl import cli, entries, topology

from .conftest import REPO


@pytest.fixture(scope="module")
def written() -> dict[str, entries.Entry]:
    return {e.key: e for e in entries.load(REPO / "consul-config")}


def test_proxy_defaults_come_first_then_everything_by_kind_and_name(written):
    keys = list(written)
    assert keys[0] == "proxy-defaults/global"
    assert keys[1:] == sorted(keys[1:])


def test_a_resolver_for_every_called_service_and_a_router_for_every_service_with_callers(written):
    mesh = topology.load(REPO / "consul-config")
    called = {u.service for s in mesh.values() for u in s.upstreams}
    assert {k.split("/")[1] for k in written if k.startswith("service-resolver/")} == called == {
        "users", "products", "orders"}
    # frontend's only caller is the ingress gateway, which routes by frontend's router
    assert {k.split("/")[1] for k in written if k.startswith("service-router/")} == called | {"frontend"}
    assert all(written[f"service-resolver/{name}"].body["ConnectTimeout"] == "2s" for name in called)


@pytest.mark.parametrize("service, timeout, writes", [
    ("users", "5s", []),
    ("products", "5s", [{"PathPrefix": "/products/reservations/", "Methods": ["PUT", "DELETE"]}]),
    ("orders", "12s", [{"PathExact": "/api/orders", "Methods": ["POST"],
                        "Header": [{"Name": "Idempotency-Key", "Present": True}]}]),
    ("frontend", "15s", [{"PathExact": "/api/orders", "Methods": ["POST"],
                          "Header": [{"Name": "Idempotency-Key", "Present": True}]}]),
])
def test_a_router_retries_reads_and_idempotent_writes_only_and_limits_every_route(written, service, timeout, writes):
    routes = written[f"service-router/{service}"].body["Routes"]
    assert [r["Match"]["HTTP"] for r in routes] == [{"Methods": ["GET", "HEAD"]}, *writes, {"PathPrefix": "/"}]
    retry = {"NumRetries": 2, "RetryOnConnectFailure": True, "RetryOn": ["reset"], "RetryOnStatusCodes": [503]}
    assert [r["Destination"] for r in routes[:-1]] == [{**retry, "RequestTimeout": timeout}] * (len(routes) - 1)
    # everything else (a POST that creates something): the time limit, never a retry
    assert routes[-1]["Destination"] == {"RequestTimeout": timeout}


def test_callers_limit_every_upstream_and_never_eject_one_that_relays(written):
    frontend = written["service-defaults/frontend"].body
    assert frontend["Protocol"] == "http"  # proxy-defaults' protocol, said again as before
    defaults = frontend["UpstreamConfig"]["Defaults"]
    assert defaults["Limits"] == {"MaxConnections": 512, "MaxPendingRequests": 512, "MaxConcurrentRequests": 512}
    assert defaults["PassiveHealthCheck"]["MaxFailures"] == 5
    assert defaults["PassiveHealthCheck"]["MaxEjectionPercent"] == 50
    # orders calls others, so it relays their failures: frontend never ejects it
    assert frontend["UpstreamConfig"]["Overrides"] == [{"Name": "orders",
                                                        "PassiveHealthCheck": {"MaxEjectionPercent": 0}}]
    # orders calls users and products, which call nobody: no override
    assert "Overrides" not in written["service-defaults/orders"].body["UpstreamConfig"]
    assert "service-defaults/users" not in written and "service-defaults/products" not in written


def test_the_ingress_gateway_gets_the_callers_limits_and_never_ejects_the_frontend(written):
    gateway = written["ingress-gateway/ingress-gateway"]
    assert gateway.file is None  # completed, so written as JSON, not from its file
    assert gateway.body["Defaults"] == {"MaxConnections": 512, "MaxPendingRequests": 512,
                                        "MaxConcurrentRequests": 512, "PassiveHealthCheck": {"MaxEjectionPercent": 0}}
    assert gateway.body["Listeners"][0]["Services"] == [{"Name": "frontend", "Hosts": ["*"]}]


def test_every_l7_source_ends_with_a_deny_of_everything_else(written):
    for key in ("service-intentions/users", "service-intentions/products", "service-intentions/orders"):
        for source in written[key].body["Sources"]:
            assert source["Permissions"][-1] == {"Action": "deny", "HTTP": {"PathPrefix": "/"}}, (key, source)
            assert source["Permissions"].count(source["Permissions"][-1]) == 1
    # the gateway's last permission allows everything: nothing is added after it, and the file is
    # written as it is
    frontend = written["service-intentions/frontend"]
    assert frontend.body["Sources"][0]["Permissions"][-1] == {"Action": "allow", "HTTP": {"PathPrefix": "/"}}
    assert frontend.file == REPO / "consul-config" / "config-entries" / "intentions-frontend.hcl"
    assert written["service-intentions/*"].body["Sources"] == [{"Name": "*", "Action": "deny"}]


def test_a_gateway_in_front_of_a_relay_and_others_ejects_all_but_the_relay(mesh_config):
    path = mesh_config / "config-entries" / "ingress-gateway.hcl"
    path.write_text(path.read_text().replace('Name = "frontend"', 'Name = "frontend"\n      },\n      {\n        Name = "users"'))
    gateway = {e.key: e.body for e in entries.load(mesh_config)}["ingress-gateway/ingress-gateway"]
    assert gateway["Defaults"]["PassiveHealthCheck"]["MaxEjectionPercent"] == 50
    frontend, users = gateway["Listeners"][0]["Services"]
    assert (frontend["Name"], frontend["PassiveHealthCheck"]) == ("frontend", {"MaxEjectionPercent": 0})
    assert users["Name"] == "users" and "PassiveHealthCheck" not in users


def test_unchanged_entries_are_written_from_their_own_file(written):
    assert written["proxy-defaults/global"].file.name == "proxy-defaults.hcl"
    assert all(e.file is None for k, e in written.items() if k.split("/")[0] in (
        "service-router", "service-resolver", "service-defaults"))


def test_a_fifth_service_gets_its_callers_defaults_from_the_policy_with_no_entry_of_its_own(with_fifth_service):
    derived = {e.key: e.body for e in entries.load(with_fifth_service)}
    inventory = derived["service-defaults/inventory"]["UpstreamConfig"]
    assert inventory["Defaults"]["Limits"]["MaxConnections"] == 512
    assert "Overrides" not in inventory  # products relays nothing
    assert "service-router/inventory" not in derived  # nobody calls it


def test_a_called_service_with_no_policy_block_is_refused_naming_the_file(with_fifth_service):
    definition = json.loads((with_fifth_service / "services" / "orders.json").read_text())
    definition["service"]["connect"]["sidecar_service"]["proxy"]["upstreams"].append(
        {"destination_name": "inventory", "local_bind_address": "127.0.0.1", "local_bind_port": 8199})
    (with_fifth_service / "services" / "orders.json").write_text(json.dumps(definition))
    with pytest.raises(entries.EntriesError, match=r'resilience.hcl: inventory has callers but no Service "inventory"'):
        entries.load(with_fifth_service)


def test_a_policy_block_for_an_undefined_service_is_refused(mesh_config):
    policy = mesh_config / "resilience.hcl"
    policy.write_text(policy.read_text() + '\nService "invnetory" {\n  RequestTimeout = "5s"\n}\n')
    with pytest.raises(entries.EntriesError, match="Service 'invnetory' has no definition"):
        entries.load(mesh_config)


def test_a_policy_without_a_piece_says_which(mesh_config):
    policy = mesh_config / "resilience.hcl"
    policy.write_text(policy.read_text().replace('ConnectTimeout = "2s"', "").replace('RequestTimeout = "12s"', ""))
    with pytest.raises(entries.EntriesError, match='resilience.hcl: missing ConnectTimeout, Service "orders" RequestTimeout'):
        entries.load(mesh_config)


def test_gateway_defaults_written_by_hand_are_refused(mesh_config):
    path = mesh_config / "config-entries" / "ingress-gateway.hcl"
    path.write_text(path.read_text() + "\nDefaults {\n  MaxConnections = 1\n}\n")
    with pytest.raises(entries.EntriesError, match="its Defaults come from resilience.hcl"):
        entries.load(mesh_config)


def test_a_hand_written_entry_that_a_derived_one_would_replace_is_refused(mesh_config):
    (mesh_config / "config-entries" / "router-users.hcl").write_text('Kind = "service-router"\nName = "users"\n')
    with pytest.raises(entries.EntriesError, match="service-router/users comes from both"):
        entries.load(mesh_config)


def test_a_file_that_is_not_hcl_is_named(mesh_config):
    (mesh_config / "resilience.hcl").write_text("Retry {\n")
    with pytest.raises(entries.EntriesError, match="resilience.hcl: not valid HCL"):
        entries.load(mesh_config)


def test_a_service_in_two_versions_gets_a_subset_of_each_and_a_split_all_to_the_first(written):
    resolver = written["service-resolver/products"].body
    assert resolver["DefaultSubset"] == "v1"
    # a peer's instances (a failover to dc2) carry no meta: each subset takes them too
    assert resolver["Subsets"] == {
        "v1": {"Filter": 'Service.Meta.version == "v1" or Service.PeerName != ""', "OnlyPassing": True},
        "v2": {"Filter": 'Service.Meta.version == "v2" or Service.PeerName != ""', "OnlyPassing": True}}
    assert written["service-splitter/products"].body["Splits"] == [
        {"Weight": 100, "ServiceSubset": "v1"}, {"Weight": 0, "ServiceSubset": "v2"}]
    # a service in one version: no subsets, no splitter
    assert "Subsets" not in written["service-resolver/users"].body
    assert [k for k in written if k.startswith("service-splitter/")] == ["service-splitter/products"]


def test_the_command_lists_every_entry_and_prints_one_for_consul_config_write(capsys, written):
    assert cli.main(["entries"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(written)
    assert "derived from resilience.hcl and services/" in next(l for l in listed if l.startswith("service-router/users"))
    assert cli.main(["entries", "service-router/users"]) == 0
    assert json.loads(capsys.readouterr().out) == written["service-router/users"].body
    assert cli.main(["entries", "service-router/nope"]) == 1
    assert "no entry 'service-router/nope'" in capsys.readouterr().err


def test_make_up_writes_a_resolver_again_only_when_its_versions_changed(written):
    from meshctl.local import other_versions

    products, users = written["service-resolver/products"].body, written["service-resolver/users"].body
    # as an older consul-config/ wrote it, before v2: no subsets, and a splitter would be refused
    assert other_versions(products, {"Kind": "service-resolver", "Name": "products", "ConnectTimeout": "2s"})
    assert other_versions(products, {**products, "DefaultSubset": "v2"})
    assert not other_versions(products, {**products, "ConnectTimeout": "9s", "ModifyIndex": 42})
    assert not other_versions(users, {**users, "ConnectTimeout": "9s"})  # an operator's change stays
    assert not other_versions(written["service-splitter/products"].body, {"Splits": []})


def test_a_failover_to_a_peer_is_the_derived_resolver_with_every_subset_failing_over():
    derived = entries.resolver("products", "2s", ["v1", "v2"])
    failing_over = entries.with_failover(derived, "dc2")
    assert failing_over == {**derived, "Failover": {"*": {"Targets": [{"Peer": "dc2"}]}}}
    assert "Failover" not in derived  # the derived one is left as it was


def test_only_the_listed_files_are_written_and_nothing_derived_when_a_datacenter_says_which():
    listed = ["config-entries/proxy-defaults.hcl", "config-entries/mesh.hcl", "dc2/exported-services.hcl",
              "dc2/intentions-products.hcl"]
    loaded = entries.load(REPO / "consul-config", listed)
    assert [e.key for e in loaded] == ["proxy-defaults/global", "exported-services/default", "mesh/mesh",
                                       "service-intentions/products"]
    products = next(e.body for e in loaded if e.key == "service-intentions/products")
    # dc1's orders only, by its peer name, its permissions ended by the deny of everything else
    assert [(s["Name"], s.get("Peer")) for s in products["Sources"]] == [("orders", "dc1")]
    assert products["Sources"][0]["Permissions"][-1] == entries.DENY_THE_REST
