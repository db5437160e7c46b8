import sqlite3

import pytest

from shopcommon.app import SchemaMismatch
from users import create_app


def test_a_table_left_by_another_version_stops_the_service_at_start(tmp_path):
    path = tmp_path / "users.db"
    with sqlite3.connect(path) as old:  # as an older users made it: one more column, NOT NULL
        old.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(200), email VARCHAR(254),"
                    " created_at DATETIME, status VARCHAR(16) NOT NULL)")
    with pytest.raises(SchemaMismatch, match=r"the users table in sqlite:///.*users.db was made by another "
                       r"version of users \(extra columns: \['status'\], missing: \[\]\).*make clean-data"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


def test_a_matching_table_is_used_as_it_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'users.db'}"
    first = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert first.post("/api/users", json={"name": "Ada", "email": "ada@example.com"}).status_code == 201
    again = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert again.get("/api/users").get_json()["total"] == 1


def test_an_orders_table_whose_ids_may_be_given_again_stops_the_service_at_start(tmp_path):
    """orders made before its ids were AUTOINCREMENT (SQLite gives a deleted highest id again): the
    same columns, so only the table's own SQL tells."""
    from orders import create_app as create_orders

    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE orders (id INTEGER NOT NULL, status VARCHAR(16) NOT NULL, user_id INTEGER NOT NULL,"
                    " total_cents BIGINT NOT NULL, reservation_id VARCHAR(64) NOT NULL,"
                    " created_at DATETIME NOT NULL, PRIMARY KEY (id))")
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "USERS_URL": "http://127.0.0.1:9",
                "PRODUCTS_URL": "http://127.0.0.1:9"}
    with pytest.raises(SchemaMismatch, match=r"the orders table in sqlite:///.*orders.db was made by another version "
                       r"of orders \(its ids may be given again \(AUTOINCREMENT missing\)\).*make clean-data"):
        create_orders(settings)
    path.unlink()
    create_orders(settings)  # made afresh, it is what the model says
