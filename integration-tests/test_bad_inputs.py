"""Bad input through the frontend, per endpoint: a 4xx JSON error naming the problem, nothing stored."""

import pytest

from conftest import FRONTEND


def totals(http) -> dict[str, int]:
    return {name: http.get(f"{FRONTEND}/api/{name}?limit=1", timeout=10).json()["total"]
            for name in ("users", "products", "orders")}


JSON = {"Content-Type": "application/json"}

CASES = [
    # (endpoint, raw body, headers, expected status, expected code)
    ("users", "{bad json", JSON, 400, "malformed_json"),
    ("users", '"a string"', JSON, 400, "invalid_body"),
    ("users", '{"name": "A", "email": "a@b.c"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ("users", '{"email": "x@example.com"}', JSON, 400, "validation_failed"),
    ("users", '{"name": "", "email": "x@example.com"}', JSON, 400, "validation_failed"),
    ("users", '{"name": "A", "email": "nope"}', JSON, 400, "validation_failed"),
    ("users", '{"name": ' + '"' + "x" * 70000 + '"' + ', "email": "a@b.co"}', JSON, 413, "payload_too_large"),
    ("products", '{"name": "P", "price": "-1.00", "stock": 1}', JSON, 400, "validation_failed"),
    ("products", '{"name": "P", "price": "1.001", "stock": 1}', JSON, 400, "validation_failed"),
    ("products", '{"name": "P", "price": "1.00", "stock": -5}', JSON, 400, "validation_failed"),
    ("products", '{"name": "P", "price": 1.5, "stock": "many"}', JSON, 400, "validation_failed"),
    ("products", "[]", JSON, 400, "invalid_body"),
    ("orders", '{"user_id": 1, "items": []}', JSON, 400, "validation_failed"),
    ("orders", '{"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]}', JSON, 400, "validation_failed"),
    ("orders", '{"user_id": 1, "items": [{"product_id": 1, "quantity": 1.5}]}', JSON, 400, "validation_failed"),
    ("orders", '{"user_id": "one", "items": [{"product_id": 1, "quantity": 1}]}', JSON, 400, "validation_failed"),
    ("orders", '{"user_id": 999999999, "items": [{"product_id": 1, "quantity": 1}]}', JSON, 422, "unknown_user"),
    ("orders", "not json", JSON, 400, "malformed_json"),
]


@pytest.mark.parametrize("endpoint, body, headers, status, code", CASES)
def test_bad_input_is_a_json_4xx_and_stores_nothing(mesh, http, endpoint, body, headers, status, code):
    before = totals(http)
    response = http.post(f"{FRONTEND}/api/{endpoint}", data=body.encode(), headers=headers, timeout=15)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert totals(http) == before


def test_order_for_unknown_product_is_422(http, make_user):
    user = make_user()
    before = totals(http)
    response = http.post(f"{FRONTEND}/api/orders", timeout=15,
                         json={"user_id": user["id"], "items": [{"product_id": 987654321, "quantity": 1}]})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"items[0].product_id": "product 987654321 does not exist"}
    assert totals(http) == before


def test_order_beyond_stock_is_409(http, make_user, make_product):
    user, product = make_user(), make_product(stock=2)
    response = http.post(f"{FRONTEND}/api/orders", timeout=15,
                         json={"user_id": user["id"], "items": [{"product_id": product["id"], "quantity": 3}]})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_stock"
    assert http.get(f"{FRONTEND}/api/products/{product['id']}", timeout=10).json()["stock"] == 2


@pytest.mark.parametrize("path", ["/api/users/999999999", "/api/products/999999999", "/api/orders/999999999"])
def test_unknown_ids_are_404_json(mesh, http, path):
    response = http.get(f"{FRONTEND}{path}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"].endswith("_not_found")


def test_duplicate_email_is_409(http, make_user):
    user = make_user()
    response = http.post(f"{FRONTEND}/api/users", json={"name": "Dup", "email": user["email"]}, timeout=10)
    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"email": "is already registered"}
