"""``/products``: list, read, create."""

from flask import Blueprint, url_for

from products.models import Product
from shopcommon import db
from shopcommon.resources import read_routes
from shopcommon.validation import json_body, product_request

bp = Blueprint("products", __name__, url_prefix="/products")
read_routes(bp, Product, "product")  # GET /products (a page), GET /products/<id>


@bp.post("")
def create_product():
    name, price_cents, stock = product_request(json_body())
    product = Product(name=name, price_cents=price_cents, stock=stock)
    db.session.add(product)
    db.session.commit()
    return product.to_dict(), 201, {"Location": url_for("products.get_product", product_id=product.id)}
