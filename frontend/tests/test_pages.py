"""The HTML pages and forms, against the real services on loopback ports."""

import re

import pytest

from frontend import create_app


def test_user_form_creates_and_redirects_to_the_user(client, submit):
    response = submit(client, "/users", {"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "User created." in page and "ada@example.com" in page


def test_user_form_shows_each_error_next_to_its_field(client, submit):
    response = submit(client, "/users", {"name": "", "email": "nope"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="name-error">Name must not be empty' in page
    assert 'id="email-error">Email must be an email address' in page
    assert 'value="nope"' in page  # what the person typed is kept


def test_duplicate_email_is_shown_on_the_email_field(client, submit):
    submit(client, "/users", {"name": "Ada", "email": "ada@example.com"})
    page = submit(client, "/users", {"name": "Ada", "email": "ada@example.com"}).get_data(as_text=True)
    assert 'id="email-error">Email is already registered' in page


@pytest.mark.parametrize("form, field", [({"name": "P", "price": "-1", "stock": "1"}, "price"),
                                         ({"name": "P", "price": "1.00", "stock": "lots"}, "stock"),
                                         ({"name": "", "price": "1.00", "stock": "1"}, "name")])
def test_product_form_errors(client, submit, form, field):
    response = submit(client, "/products", form)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert client.get("/api/products").get_json()["total"] == 0


def test_product_form_creates_and_shows_the_price_as_money(client, submit):
    response = submit(client, "/products", {"name": "Lamp", "price": "5.5", "stock": ""})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Product created." in page and "<dd>5.50</dd>" in page
    assert client.get("/api/products").get_json()["items"][0]["stock"] == 0


def test_missing_product_and_order_pages_are_404(client):
    assert client.get("/products/424242").status_code == 404
    assert client.get("/orders/424242").status_code == 404


def _ids(client):
    user = client.post("/api/users", json={"name": "Buyer", "email": "buyer@example.com"}).get_json()
    a = client.post("/api/products", json={"name": "Apple", "price": "0.50", "stock": 10}).get_json()
    b = client.post("/api/products", json={"name": "Bread", "price": "2.25", "stock": 1}).get_json()
    return user["id"], a["id"], b["id"]


def test_order_form_places_an_order_and_shows_the_services_total(client, submit):
    uid, a, b = _ids(client)
    form = client.get("/orders/new").get_data(as_text=True)
    request_id = re.search(r'name="request_id" value="(\w+)"', form).group(1)
    response = submit(client, "/orders/new", {"user_id": uid, "request_id": request_id,
                                              "product_id": [a, b, ""], "quantity": ["3", "1", "1"]})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="order-total">3.75<' in page
    assert "Apple" in page and "Bread" in page and ">Buyer</a>" in page
    assert '<td class="num">0.50</td>' in page and '<td class="num">2.25</td>' in page
    listed = client.get("/orders").get_data(as_text=True)
    assert ">Buyer</a>" in listed and '<td class="num">3.75</td>' in listed


def test_double_submitted_order_form_places_one_order(client, submit):
    uid, a, _ = _ids(client)
    data = {"user_id": uid, "request_id": "same-form", "product_id": [a], "quantity": ["1"]}
    first, second = submit(client, "/orders/new", data), submit(client, "/orders/new", data)
    assert first.headers["Location"] == second.headers["Location"]
    assert client.get("/api/products/%d" % a).get_json()["stock"] == 9


def test_order_form_says_which_item_lacks_stock(client, submit):
    uid, a, b = _ids(client)
    response = submit(client, "/orders/new", {"user_id": uid, "request_id": "r1",
                                              "product_id": ["", a, b], "quantity": ["1", "1", "5"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Not enough stock." in page
    assert 'id="row-error-3">Product 3: only 1 of product' in page
    assert 'id="row-error-2"' not in page
    assert client.get(f"/api/products/{b}").get_json()["stock"] == 1
    assert client.get("/api/orders").get_json()["total"] == 0


def test_order_form_names_each_bad_row_before_asking_orders(client, submit):
    uid, a, b = _ids(client)
    response = submit(client, "/orders/new", {"user_id": uid, "request_id": "r0",
                                              "product_id": [a, "", b], "quantity": ["many", "1", "0"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="row-error-1">Product 1: must be an integer' in page
    assert 'id="row-error-3">Product 3: must be positive' in page
    assert 'name="request_id" value="r0"' not in page  # a corrected order is a new request
    assert client.get("/api/orders").get_json()["total"] == 0


def test_order_form_names_an_unknown_user(client, submit):
    _, a, _ = _ids(client)
    response = submit(client, "/orders/new", {"user_id": "999", "request_id": "r2", "product_id": [a], "quantity": ["1"]})
    assert response.status_code == 422
    assert 'id="user_id-error">User: this user does not exist (any more)' in response.get_data(as_text=True)
    assert client.get(f"/api/products/{a}").get_json()["stock"] == 10
    assert client.get("/api/orders").get_json()["total"] == 0


def test_order_form_says_when_a_service_is_unavailable(services, closed_port_url, submit):
    app = create_app({"TESTING": True, **services, "ORDERS_URL": closed_port_url})
    response = submit(app.test_client(), "/orders/new", {"user_id": "1", "request_id": "r3",
                                                         "product_id": ["1"], "quantity": ["1"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "A service is unavailable." in page and "orders" in page
    assert "items-error" not in page and "built-in" not in page
    assert 'name="request_id" value="r3"' in page  # the same order may be retried as it is


def test_user_page_blanks_only_the_orders_it_cannot_get(services, closed_port_url):
    app = create_app({"TESTING": True, **services, "ORDERS_URL": closed_port_url})
    c = app.test_client()
    uid = c.post("/api/users", json={"name": "Ada", "email": "ada@example.com"}).get_json()["id"]
    response = c.get(f"/users/{uid}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Ada</h1>" in page and "The orders service is unavailable." in page


def test_lists_are_paginated(client):
    for i in range(25):
        client.post("/api/products", json={"name": f"p{i:02d}", "price": "1", "stock": 1})
    first = client.get("/products").get_data(as_text=True)
    assert "Page 1 of 2 (25 in all)" in first and "p24" in first and "p04" not in first
    second = client.get("/products?page=2").get_data(as_text=True)
    assert "p04" in second and "p24" not in second


def test_missing_page_is_html_and_missing_api_is_json(client):
    assert "Not found" in client.get("/nowhere").get_data(as_text=True)
    assert client.get("/api/nowhere").is_json
    assert client.get("/users/424242").status_code == 404


def test_intention_writes_are_401_without_a_consul_token(client, submit):
    for call in (lambda: client.put("/api/intentions/users/orders", json={"action": "deny"}),
                 lambda: client.delete("/api/intentions/users/orders"),
                 lambda: submit(client, "/intentions", {"source": "users", "destination": "orders"}, page="/login")):
        assert call().status_code == 401


def test_try_it_refuses_unsafe_methods(client, sign_in_without_consul, csrf_token):
    sign_in_without_consul(client)
    response = client.post("/api/intentions/try", json={"source": "orders", "destination": "products",
                                                        "method": "DELETE", "path": "/products"},
                           headers={"X-CSRFToken": csrf_token(client, "/intentions")})
    assert response.status_code == 400
