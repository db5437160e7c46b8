"""``/products``: list, read, create."""

from flask import Blueprint, url_for
from sqlalchemy import select

from products.models import Product
from shopcommon import APIError, db
from shopcommon.pagination import paginate
from shopcommon.validation import json_body, product_request

bp = Blueprint("products", __name__, url_prefix="/products")


@bp.get("")
def list_products():
    return paginate(select(Product), Product.to_dict, Product.id)


@bp.get("/<id:product_id>")
def get_product(product_id: int):
    product = db.session.get(Product, product_id)
    if product is None:
        raise APIError(404, "product_not_found", f"product {product_id} does not exist",
                       {"id": "no such product"})
    return product.to_dict()


@bp.post("")
def create_product():
    name, price_cents, stock = product_request(json_body())
    product = Product(name=name, price_cents=price_cents, stock=stock)
    db.session.add(product)
    db.session.commit()
    return product.to_dict(), 201, {"Location": url_for("products.get_product", product_id=product.id)}
