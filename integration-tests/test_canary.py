"""products' canary in make up's mesh: v1 and v2 each their own instance and sidecar, the split
between them moved by the operator's command (`python -m meshctl split`), every answer naming the
version that served it (Served-By). canarylib.py holds what the container suite runs the same way."""

import pytest

import canarylib
from conftest import FRONTEND, MESH, SECRETS, meshctl
from meshctl import envoy_admin

OPERATOR = {"CONSUL_HTTP_TOKEN_FILE": str(SECRETS / "acl" / "management.token")}
# the frontend's Envoy, through its products upstream (what the frontend's own calls use), and the
# Envoys that route products' requests
PRODUCTS_UPSTREAM = MESH["frontend"].upstream_env()["PRODUCTS_URL"]
CALLERS = [MESH["frontend"].admin_port, MESH["orders"].admin_port]


def split(*weights: str) -> None:
    moved = meshctl("split", "products", *weights, timeout=30, env=OPERATOR)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    canarylib.wait_for_weights(lambda port: envoy_admin.split_weights(port, "products"), CALLERS,
                               canarylib.asked(weights))


@pytest.fixture
def restored(mesh):
    """Whatever a test moves, products' split is all to v1 again afterwards, as make up leaves it."""
    yield
    split("v2=0")


def test_the_split_is_all_to_v1_as_make_up_leaves_it(mesh):
    shown = meshctl("split", "products", timeout=30, env=OPERATOR)
    assert shown.returncode == 0 and shown.stdout == "products: v1=100 v2=0\n", shown.stdout + shown.stderr
    assert all(envoy_admin.split_weights(port, "products") == {"v1": 100} for port in CALLERS)


def test_ninety_ten_sends_about_one_get_in_ten_to_v2(restored, http, make_product):
    product = make_product(stock=3)
    split("v2=10")
    canarylib.ninety_ten(http, f"{PRODUCTS_UPSTREAM}/products/{product['id']}", "the frontend's products upstream")


def test_moving_the_weights_under_load_loses_no_order(restored):
    result, books = canarylib.orders_while_moving(FRONTEND, split, ("v2=0", "v2=50", "v2=100"))
    print(f"\nordering while products moved 0 -> 50 -> 100 % to v2: {dict(result['answers'])}, "
          f"{books['taken']} units taken = {books['in_orders']} in confirmed orders")
    assert dict(result["answers"]).keys() == {201}, result["answers"]
