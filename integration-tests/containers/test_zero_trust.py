"""The attacks that worked before ACLs, tried again from inside every app container: none may yield
another service's mesh certificate or change an intention. Plus each token's exact rights. (The
probes are dockerstack.py's, which the cluster suite makes too.)"""

import pytest

import dockerstack
from compose_stack import MESH, STACK, container, docker

SERVICES = tuple(MESH)


@pytest.mark.parametrize("app", SERVICES)
def test_no_app_container_can_take_a_certificate_or_change_an_intention(consul_client, app):
    dockerstack.assert_no_certificate_or_intention_from(consul_client, STACK, app, app, agents=("consul",),
                                                        instances=1)


def test_apps_hold_no_client_certificate_and_no_token_but_the_frontends(stack):
    dockerstack.assert_no_secret_but_the_frontends_token(STACK, [(app, app) for app in SERVICES])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_token_has_its_identity_only_and_cannot_write_intentions(consul_http, service):
    dockerstack.assert_token_has_its_identity_only(consul_http, STACK, f"{service}-sidecar", service, "orders")
    # the token file: its sidecar's user only
    mode = docker("exec", container(f"{service}-sidecar"), "stat", "-c", "%a %u", "/consul/secrets/service.token")
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
