"""What the rolling restart asks every Envoy (`python3 -m meshctl.container knows SERVICE N`), against
a stand-in admin listener serving the stats Envoy serves."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from meshctl import container, envoy_admin

STATS = """cluster.local_app.membership_healthy: 1
cluster.products.default.dc1.internal.0f1e.consul.membership_healthy: 2
cluster.users.default.dc1.internal.0f1e.consul.membership_healthy: 1
cluster.users.default.dc1.internal.0f1e.consul.membership_total: 2
"""


@pytest.fixture
def admin():
    class Stats(BaseHTTPRequestHandler):
        def do_GET(self):
            body = STATS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stats)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthy_endpoints_are_counted_per_upstream_and_the_local_app_is_not_one(admin):
    assert envoy_admin.healthy_endpoints(admin) == {"products": 2, "users": 1}


def test_an_envoy_that_does_not_answer_knows_nothing():
    assert envoy_admin.healthy_endpoints(1) is None


@pytest.mark.parametrize("service, count, status", [
    ("products", "2", 0),  # knows both
    ("users", "2", 1),  # one of two: the rolling restart waits
    ("orders", "2", 0),  # does not call orders: nothing to wait for
    ("users", "x", 2),  # usage
])
def test_knows(admin, monkeypatch, service, count, status):
    monkeypatch.setenv("GATEWAY", "ingress")  # a gateway's admin port needs no service definition
    monkeypatch.setattr(container, "GATEWAY_ADMIN_PORT", admin)
    assert container.knows(service, count) == status
