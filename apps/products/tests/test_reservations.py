import pytest
from sqlalchemy import select

from products.models import Reservation
from shopcommon import db


def reserve(client, rid, items):
    return client.put(f"/products/reservations/{rid}", json={"items": items})


def test_reservation_takes_stock_and_snapshots_prices(client, store, make_product):
    a = make_product(price="2.50", stock=5)
    b = make_product(price="1.00", stock=3)
    response = reserve(client, "r1", [{"product_id": a["id"], "quantity": 2},
                                      {"product_id": b["id"], "quantity": 3}])
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "reserved"
    assert body["total"] == "8.00"
    assert {(i["product_id"], i["quantity"], i["unit_price"]) for i in body["items"]} == {
        (a["id"], 2, "2.50"), (b["id"], 3, "1.00")}
    assert store.stock(a["id"]) == 3 and store.stock(b["id"]) == 0


def test_lines_of_one_product_are_one_line_of_their_sum(client, store, make_product):
    # two lines of 600,000 are one of 1,200,000: more than a request's line may ask, still a true answer
    p = make_product(price="1.00", stock=2_000_000)
    response = reserve(client, "big", [{"product_id": p["id"], "quantity": 600_000}] * 2)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["items"] == [{"product_id": p["id"], "quantity": 1_200_000, "unit_price": "1.00"}]


def test_repeating_a_reservation_does_not_reserve_twice(client, store, make_product):
    p = make_product(stock=5)
    items = [{"product_id": p["id"], "quantity": 2}]
    assert reserve(client, "same", items).status_code == 201
    again = reserve(client, "same", items)
    assert again.status_code == 200
    assert again.get_json()["status"] == "reserved"
    assert store.stock(p["id"]) == 3


def test_insufficient_stock_is_409_and_all_or_nothing(client, store, make_product):
    a = make_product(stock=5)
    b = make_product(stock=1)
    response = reserve(client, "r2", [{"product_id": a["id"], "quantity": 2},
                                      {"product_id": b["id"], "quantity": 2}])
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["fields"] == {"items[1].quantity": f"only 1 of product {b['id']} in stock"}
    assert store.stock(a["id"]) == 5 and store.stock(b["id"]) == 1
    assert store.count(Reservation) == 0


def test_unknown_product_is_422(client, store, make_product):
    a = make_product(stock=5)
    response = reserve(client, "r3", [{"product_id": a["id"], "quantity": 1},
                                      {"product_id": 999, "quantity": 1}])
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"items[1].product_id": "product 999 does not exist"}
    assert store.stock(a["id"]) == 5


def test_same_product_twice_is_summed(client, store, make_product):
    p = make_product(stock=3)
    response = reserve(client, "r4", [{"product_id": p["id"], "quantity": 2},
                                      {"product_id": p["id"], "quantity": 2}])
    assert response.status_code == 409
    assert store.stock(p["id"]) == 3


def test_release_gives_stock_back_once(client, store, make_product):
    p = make_product(stock=4)
    reserve(client, "r5", [{"product_id": p["id"], "quantity": 3}])
    assert client.get("/products/reservations/r5").get_json()["status"] == "reserved"
    for _ in range(2):
        response = client.delete("/products/reservations/r5")
        assert response.status_code == 200
        assert response.get_json()["status"] == "released"
        assert store.stock(p["id"]) == 4
    # released, it is gone: it holds nothing any more
    gone = client.get("/products/reservations/r5")
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "reservation_released"


def test_release_before_reserve_blocks_the_late_reserve(client, store, make_product):
    p = make_product(stock=4)
    assert client.delete("/products/reservations/late").status_code == 200
    response = reserve(client, "late", [{"product_id": p["id"], "quantity": 1}])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "reservation_released"
    assert store.stock(p["id"]) == 4


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "items"),
        ({"items": []}, "items"),
        ({"items": "x"}, "items"),
        ({"items": [5]}, "items[0]"),
        ({"items": [{"quantity": 1}]}, "items[0].product_id"),
        ({"items": [{"product_id": 1}]}, "items[0].quantity"),
        ({"items": [{"product_id": 1, "quantity": 0}]}, "items[0].quantity"),
        ({"items": [{"product_id": 1, "quantity": -2}]}, "items[0].quantity"),
        ({"items": [{"product_id": 1, "quantity": 1.5}]}, "items[0].quantity"),
        ({"items": [{"product_id": "1", "quantity": 1}]}, "items[0].product_id"),
        ({"items": [{"product_id": 1, "quantity": 1}] * 51}, "items"),
    ],
)
def test_invalid_reservation_is_400(client, store, make_product, body, field):
    p = make_product(stock=5)
    response = client.put("/products/reservations/bad", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]
    assert store.stock(p["id"]) == 5
    assert store.count(Reservation) == 0


def test_invalid_reservation_id_is_400(client):
    response = client.put("/products/reservations/has%20space", json={"items": [{"product_id": 1, "quantity": 1}]})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_reservation_id"


def test_concurrent_reservations_never_oversell(app, store, make_product):
    """40 threads race for 10 units through a real threaded server: exactly 10 win."""
    import requests

    from shoptesting import concurrently, serve

    p = make_product(stock=10)
    with serve(app) as base:
        def attempt(n):
            return requests.put(f"{base}/products/reservations/c{n}", timeout=30,
                                json={"items": [{"product_id": p["id"], "quantity": 1}]}).status_code
        results = concurrently(attempt, 40)
    assert sorted(results) == [201] * 10 + [409] * 30
    assert store.stock(p["id"]) == 0


def test_one_id_sold_by_many_at_once_is_sold_once_and_every_answer_is_the_same(app, store, make_product):
    """16 PUTs of one id race (a retried sale): one takes the stock (201), every other answers the
    same reservation (200), as a repeat does."""
    import requests

    from shoptesting import concurrently, serve

    p, q = make_product(stock=100, price="1.25"), make_product(stock=100, price="2.00")
    items = [{"product_id": q["id"], "quantity": 1}, {"product_id": p["id"], "quantity": 2}]
    with serve(app) as base:
        def attempt(_):
            r = requests.put(f"{base}/products/reservations/same", timeout=30, json={"items": items, "sell": True})
            return r.status_code, r.json()
        results = concurrently(attempt, 16)
    assert sorted(status for status, _ in results) == [200] * 15 + [201], results
    assert len({str(body) for _, body in results}) == 1, results
    assert results[0][1]["items"] == [{"product_id": p["id"], "quantity": 2, "unit_price": "1.25"},
                                      {"product_id": q["id"], "quantity": 1, "unit_price": "2.00"}]
    assert store.stock(p["id"]) == 98 and store.stock(q["id"]) == 99


def test_sales_racing_their_releases_take_stock_only_for_what_stays_sold(app, store, make_product):
    """A PUT and a DELETE of the same id at once, 20 ids: whichever comes first wins, and the stock
    taken is exactly the reservations that stayed confirmed."""
    import requests

    from shoptesting import concurrently, serve

    p = make_product(stock=1000)
    items = [{"product_id": p["id"], "quantity": 1}]
    with serve(app) as base:
        def attempt(n):
            url = f"{base}/products/reservations/race{n // 2}"
            r = (requests.delete(url, timeout=30) if n % 2 else
                 requests.put(url, timeout=30, json={"items": items, "sell": True}))
            return n % 2, r.status_code
        results = concurrently(attempt, 40)
    sales = [status for released, status in results if not released]
    assert set(sales) <= {201, 409} and {status for released, status in results if released} <= {200, 409}, results
    with app.app_context():
        statuses = [r.status for r in db.session.scalars(select(Reservation))]
    assert statuses.count("confirmed") == sales.count(201)
    assert store.stock(p["id"]) == 1000 - sales.count(201)


def test_a_sales_answer_is_what_reading_it_back_gives(client, make_product):
    a, b = make_product(stock=10, price="0.10"), make_product(stock=10, price="3.00")
    made = client.put("/products/reservations/g1", json={"items": [
        {"product_id": b["id"], "quantity": 1}, {"product_id": a["id"], "quantity": 2},
        {"product_id": b["id"], "quantity": 1}], "sell": True})
    assert made.status_code == 201
    read = client.get("/products/reservations/g1")
    assert list(made.get_json().items()) == list(read.get_json().items())
    # a repeat answers the reservation made, whatever it asks for
    again = client.put("/products/reservations/g1", json={"items": [{"product_id": 999999, "quantity": 1}]})
    assert again.status_code == 200 and again.get_json() == read.get_json()


# --- held, then confirmed or expired --------------------------------------------------------------

def confirm(client, rid):
    return client.put(f"/products/reservations/{rid}/confirmation")


def test_a_confirmed_reservation_keeps_its_stock_sold(client, store, make_product):
    p = make_product(stock=5)
    reserve(client, "sold", [{"product_id": p["id"], "quantity": 2}])
    for _ in range(2):  # confirming again is harmless
        response = confirm(client, "sold")
        assert response.status_code == 200 and response.get_json()["status"] == "confirmed"
    refused = client.delete("/products/reservations/sold")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "reservation_confirmed"
    assert store.stock(p["id"]) == 3
    assert reserve(client, "sold", [{"product_id": p["id"], "quantity": 2}]).status_code == 200  # a repeat
    assert store.stock(p["id"]) == 3


def test_confirming_what_was_released_or_never_made_fails(client, store, make_product):
    p = make_product(stock=5)
    reserve(client, "gone", [{"product_id": p["id"], "quantity": 1}])
    client.delete("/products/reservations/gone")
    response = confirm(client, "gone")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "reservation_released"
    assert confirm(client, "never").status_code == 404
    assert store.stock(p["id"]) == 5


def test_a_sale_is_confirmed_as_it_is_made_and_never_expires(expiring, client, store, make_product):
    from products.reservations import expire_due

    p = make_product(price="3.00", stock=5)
    sale = {"items": [{"product_id": p["id"], "quantity": 2}], "sell": True}
    response = client.put("/products/reservations/sale", json=sale)
    assert response.status_code == 201
    assert response.get_json()["status"] == "confirmed" and response.get_json()["total"] == "6.00"
    again = client.put("/products/reservations/sale", json=sale)
    assert again.status_code == 200 and again.get_json() == response.get_json()
    with expiring.app_context():
        assert expire_due() == 0  # a held reservation made now would have expired
    refused = client.delete("/products/reservations/sale")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "reservation_confirmed"
    assert client.get("/products/reservations/sale").get_json()["status"] == "confirmed"
    assert store.stock(p["id"]) == 3


def test_a_sale_after_its_release_fails(client, store, make_product):
    p = make_product(stock=5)
    client.delete("/products/reservations/late")
    response = client.put("/products/reservations/late", json={"items": [{"product_id": p["id"], "quantity": 1}],
                                                               "sell": True})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "reservation_released"
    assert store.stock(p["id"]) == 5


@pytest.fixture
def expiring(app):
    """Reservations expire the moment they are made (a hold of 0 s)."""
    app.config["RESERVATION_HOLD_SECONDS"] = 0
    yield app
    app.config["RESERVATION_HOLD_SECONDS"] = 30


def test_a_reservation_nobody_confirms_expires_and_its_stock_comes_back(expiring, client, store, make_product):
    from products.reservations import expire_due

    p = make_product(stock=5)
    assert reserve(client, "late", [{"product_id": p["id"], "quantity": 3}]).status_code == 201
    assert store.stock(p["id"]) == 2
    with expiring.app_context():
        assert expire_due() == 1
        assert expire_due() == 0  # once
    assert store.stock(p["id"]) == 5 and store.reservation_status("late") == "expired"
    gone = client.get("/products/reservations/late")
    assert gone.status_code == 410 and gone.get_json()["error"]["code"] == "reservation_expired"
    response = confirm(client, "late")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "reservation_expired"
    repeat = reserve(client, "late", [{"product_id": p["id"], "quantity": 3}])
    assert repeat.status_code == 409 and repeat.get_json()["error"]["code"] == "reservation_expired"
    assert store.stock(p["id"]) == 5


def test_a_late_confirmation_fails_and_gives_the_stock_back_itself(expiring, client, store, make_product):
    p = make_product(stock=5)
    reserve(client, "slow", [{"product_id": p["id"], "quantity": 4}])
    response = confirm(client, "slow")  # before any sweep: the expiry is checked here too
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "reservation_expired"
    assert store.stock(p["id"]) == 5


def test_the_sweep_leaves_held_and_confirmed_reservations_alone(app, client, store, make_product):
    from products.reservations import expire_due

    p = make_product(stock=5)
    reserve(client, "held", [{"product_id": p["id"], "quantity": 1}])
    reserve(client, "kept", [{"product_id": p["id"], "quantity": 1}])
    confirm(client, "kept")
    with app.app_context():
        assert expire_due() == 0
    assert store.stock(p["id"]) == 3
    assert store.reservation_status("held") == "reserved" and store.reservation_status("kept") == "confirmed"


@pytest.mark.parametrize("spelling", ["/products/%72eservations/{rid}", "/products%2Freservations/{rid}",
                                      "/products/./reservations/{rid}", "/products//reservations/{rid}",
                                      "/products/reservations/{rid}%2F..%2F{rid}"])
def test_a_reservation_spelled_out_of_normal_form_takes_nothing(client, store, make_product, spelling):
    p = make_product(stock=5)
    answer = client.put(spelling.format(rid="r1"), json={"items": [{"product_id": p["id"], "quantity": 2}]})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "path_not_normal"
    assert store.stock(p["id"]) == 5 and store.reservation_status("r1") is None
    assert client.get(spelling.format(rid="r1")).status_code == 400
