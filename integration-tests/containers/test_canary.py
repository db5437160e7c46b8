"""products' canary in containers (services.yml: products and products-v2, each with its sidecar),
as the local suite's test_canary.py checks it in make up's mesh: the split moved by the operator
(meshctl.splits, with the management token), every answer naming the version that served it."""

import json

import pytest

import canarylib
from compose_stack import MESH, container, docker
from dockerstack import session
from meshctl import splits

CALLERS = ("frontend", "orders")  # the Envoys that route products' requests
READ = "import json; from meshctl import envoy_admin; print(json.dumps(envoy_admin.split_weights({port}, 'products')))"


def held(caller: str) -> dict | None:
    """The split the Envoy in ``caller``'s sidecar routes products by (read inside its container)."""
    read = docker("exec", container(f"{caller}-sidecar"), "python3", "-c", READ.format(port=MESH[caller].admin_port))
    return json.loads(read.stdout) if read.returncode == 0 else None


@pytest.fixture
def split(consul_client):
    def move(*weights: str) -> None:
        splits.change(consul_client, "products", list(weights))
        canarylib.wait_for_weights(held, CALLERS, canarylib.asked(weights))
    yield move
    move("v2=0")  # as mesh-init left it


def test_ninety_ten_sends_about_one_get_in_ten_to_v2(split, frontend, api):
    product = api.product(stock=3)
    split("v2=10")
    with session() as http:
        canarylib.ninety_ten(http, f"{frontend}/api/products/{product['id']}", "the frontend's API")


def test_moving_the_weights_under_load_loses_no_order(split, frontend):
    result, books = canarylib.orders_while_moving(frontend, split, ("v2=0", "v2=50", "v2=100"))
    print(f"\nordering while products moved 0 -> 50 -> 100 % to v2: {dict(result['answers'])}, "
          f"{books['taken']} units taken = {books['in_orders']} in confirmed orders")
    assert dict(result["answers"]).keys() == {201}, result["answers"]
