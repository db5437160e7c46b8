import pytest


def test_create_and_read_product(client, store):
    response = client.post("/products", json={"name": "Widget", "price": "19.99", "stock": 7})
    assert response.status_code == 201
    product = response.get_json()
    assert product == {"id": product["id"], "name": "Widget", "price": "19.99", "stock": 7}
    assert response.headers["Location"] == f"/products/{product['id']}"
    assert client.get(f"/products/{product['id']}").get_json() == product
    assert store.stock(product["id"]) == 7


@pytest.mark.parametrize("price, shown", [(10, "10.00"), (0.1, "0.10"), ("0", "0.00"), ("5.5", "5.50"),
                                          (19.99, "19.99"), ("1.230", "1.23")])
def test_price_is_exact(client, price, shown):
    response = client.post("/products", json={"name": "P", "price": price})
    assert response.status_code == 201
    assert response.get_json()["price"] == shown
    assert response.get_json()["stock"] == 0


def test_list_is_ordered_and_paginated(client, make_product):
    for i in range(3):
        make_product(name=f"p{i}")
    page = client.get("/products?limit=2").get_json()
    assert [p["name"] for p in page["items"]] == ["p0", "p1"]
    assert page["total"] == 3
    assert client.get("/products?offset=2").get_json()["items"][0]["name"] == "p2"
    # an empty parameter is as if it were not there
    assert client.get("/products?limit=&offset=").get_json()["limit"] == 50


@pytest.mark.parametrize("query", ["limit=x", "limit=%C2%B2", "limit=-1", "offset=1.5", "order=", "order=up"])
def test_a_bad_page_parameter_is_400_invalid_query(client, query):
    response = client.get(f"/products?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    problem = "must be asc or desc" if name == "order" else "must be a whole number"
    assert response.get_json()["error"] == {"code": "invalid_query", "message": f"{name} {problem}",
                                            "fields": {name: problem}}


def test_unknown_product_is_404(client):
    response = client.get("/products/12345")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "product_not_found"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"price": "1.00"}, "name"),
        ({"name": "", "price": "1.00"}, "name"),
        ({"name": "P"}, "price"),
        ({"name": "P", "price": "-1"}, "price"),
        ({"name": "P", "price": -0.01}, "price"),
        ({"name": "P", "price": "1.999"}, "price"),
        ({"name": "P", "price": "abc"}, "price"),
        ({"name": "P", "price": "NaN"}, "price"),
        ({"name": "P", "price": "Infinity"}, "price"),
        ({"name": "P", "price": True}, "price"),
        ({"name": "P", "price": [1]}, "price"),
        ({"name": "P", "price": "1e30"}, "price"),
        ({"name": "P", "price": "1000000000.00"}, "price"),
        ({"name": "P", "price": "1", "stock": -1}, "stock"),
        ({"name": "P", "price": "1", "stock": 1.5}, "stock"),
        ({"name": "P", "price": "1", "stock": "3"}, "stock"),
        ({"name": "P", "price": "1", "stock": True}, "stock"),
        ({"name": "P", "price": "1", "stock": 2**40}, "stock"),
        ({"name": "P", "price_cents": 100}, "price"),  # the wire's names only, never the code's
    ],
)
def test_invalid_product_is_400_and_stores_nothing(client, store, body, field):
    response = client.post("/products", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    assert store.count() == 0


def test_wrong_content_type_is_415(client, store):
    response = client.post("/products", data='{"name": "P", "price": "1"}', content_type="text/plain")
    assert response.status_code == 415
    assert store.count() == 0


def test_largest_price_and_stock_are_stored_exactly(client):
    response = client.post("/products", json={"name": "Yacht", "price": "999999999.99", "stock": 2**31 - 1})
    assert response.status_code == 201
    product = client.get(f"/products/{response.get_json()['id']}").get_json()
    assert product["price"] == "999999999.99" and product["stock"] == 2**31 - 1


def test_v2_says_how_available_each_product_is_and_v1_leaves_it_out(app, client, make_product):
    made = {stock: make_product(name=f"stock {stock}", stock=stock) for stock in (0, 5, 6)}
    assert all("availability" not in product for product in made.values())
    app.config["SERVICE_VERSION"] = "v2"  # as SERVICE_VERSION=v2 starts it: the canary
    expected = {0: "sold_out", 5: "low_stock", 6: "in_stock"}
    for stock, product in made.items():
        assert client.get(f"/products/{product['id']}").get_json()["availability"] == expected[stock]
    listed = client.get("/products").get_json()["items"]
    assert {p["stock"]: p["availability"] for p in listed} == expected
    assert client.post("/products", json={"name": "new", "price": "1.00"}).get_json()["availability"] == "sold_out"
