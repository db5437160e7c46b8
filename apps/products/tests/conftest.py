import pytest
from sqlalchemy import select

from products import create_app
from products.models import Product, Reservation
from shopcommon import db
from shoptesting import service_app

app = service_app(create_app, "products")


class Store:
    """Reads what the database holds, bypassing the API."""

    def __init__(self, app):
        self.app = app

    def stock(self, product_id: int) -> int:
        with self.app.app_context():
            return db.session.get(Product, product_id).stock

    def count(self, model=Product) -> int:
        with self.app.app_context():
            return len(db.session.scalars(select(model)).all())

    def reservation_status(self, reservation_id: str) -> str | None:
        with self.app.app_context():
            reservation = db.session.get(Reservation, reservation_id)
            return reservation.status if reservation else None


@pytest.fixture
def store(app):
    return Store(app)


@pytest.fixture
def make_product(client):
    def make(name="Widget", price="19.99", stock=10) -> dict:
        response = client.post("/products", json={"name": name, "price": price, "stock": stock})
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make
