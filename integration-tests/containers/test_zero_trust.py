"""The attacks that worked before ACLs, tried again from inside every app container: none may yield
another service's mesh certificate or change an intention. Plus each token's exact rights. (The
probes are dockerstack.py's, which the cluster suite makes too.)"""

import pytest

import dockerstack
from compose_stack import MESH, STACK, container, docker
from meshctl.topology import instances



# every app container (products' v2 too): (its Compose service, the mesh service it is an instance of)
APPS = [(instance.id, instance.name) for instance in instances(MESH)]


@pytest.mark.parametrize("app, service", APPS, ids=[app for app, _ in APPS])
def test_no_app_container_can_take_a_certificate_or_change_an_intention(consul_client, app, service):
    dockerstack.assert_no_certificate_or_intention_from(consul_client, STACK, app, service, agents=("consul",),
                                                        running={s.name: len(s.instances) for s in MESH.values()})


def test_apps_hold_no_client_certificate_and_no_token_but_the_frontends(stack):
    dockerstack.assert_no_secret_but_the_frontends_token(STACK, APPS)


@pytest.mark.parametrize("app, service", APPS, ids=[app for app, _ in APPS])
def test_each_service_token_has_its_identity_only_and_cannot_write_intentions(consul_http, app, service):
    dockerstack.assert_token_has_its_identity_only(consul_http, STACK, f"{app}-sidecar", service, "orders")
    # the token file: its sidecar's user only
    mode = docker("exec", container(f"{app}-sidecar"), "stat", "-c", "%a %u", "/consul/secrets/service.token")
    assert mode.stdout.split() == ["600", "10002"], mode.stdout


@pytest.mark.parametrize("method, path", [("PUT", "/v1/config"), ("PUT", "/v1/kv/zero-trust"), ("GET", "/v1/acl/tokens")])
def test_anonymous_requests_are_refused(consul_http, method, path):
    answer = consul_http(method, path, json={"Kind": "service-intentions", "Name": "orders",
                                             "Sources": [{"Name": "*", "Action": "allow"}]})
    assert answer.status_code == 403 and "Permission denied" in answer.text, answer.text


def test_the_frontends_token_reads_and_writes_nothing(consul_http):
    secret = docker("exec", container("frontend"), "cat", "/run/consul/token").stdout.strip()
    me = consul_http("GET", "/v1/acl/token/self", secret).json()
    assert [p["Name"] for p in me["Policies"]] == ["mesh-read"] and not me.get("ServiceIdentities"), me
