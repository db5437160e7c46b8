"""The mesh in containers, brought up from services.yml by testcontainers (images built from the repo).

Runs as its own Compose project on other host ports, with its own data folder, so it neither meets
a mesh a developer runs with `make up` or `docker compose` nor touches their data (dockerstack.py:
the bring-up, and the fixtures that reach Consul, which the cluster suite shares). The time the mesh
took to come up and the memory it holds are printed at the end.
"""

import uuid

import pytest

from compose_stack import STACK
from dockerstack import project_fixture, session
from dockerstack import (consul_ca, consul_client, consul_get, consul_http, management_token,  # noqa: F401
                         operator_cert, stack)  # the fixtures both Docker suites share

compose_project = project_fixture(STACK)
pytest_terminal_summary = STACK.summary  # the bring-up's time and the memory held


@pytest.fixture(scope="session")
def frontend(stack) -> str:
    return STACK.url


@pytest.fixture
def api(frontend):
    http = session()

    class API:
        def post(self, path, body, **headers):
            return http.post(f"{frontend}{path}", json=body, headers=headers, timeout=15)

        def get(self, path):
            return http.get(f"{frontend}{path}", timeout=15)

        def user(self):
            r = self.post("/api/users", {"name": "Container", "email": f"c-{uuid.uuid4().hex[:10]}@example.com"})
            assert r.status_code == 201, r.text
            return r.json()

        def product(self, stock=10, price="3.25"):
            r = self.post("/api/products", {"name": f"p-{uuid.uuid4().hex[:8]}", "price": price, "stock": stock})
            assert r.status_code == 201, r.text
            return r.json()

        def order(self, user, product, quantity=1, **headers):
            return self.post("/api/orders", {"user_id": user["id"],
                                             "items": [{"product_id": product["id"], "quantity": quantity}]}, **headers)

        def stock(self, product):
            return self.get(f"/api/products/{product['id']}").json()["stock"]
    yield API()
    http.close()
