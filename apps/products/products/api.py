"""``/products``: list, read, create."""

from flask import url_for
from sqlalchemy import select

from products.models import Product
from shopcommon import db
from shopcommon.api import BODY_REFUSALS, QUERY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.contract import NewProduct, PageQuery, ProductPage, ProductPath
from shopcommon.contract import Product as ProductAnswer
from shopcommon.pagination import paginate
from shopcommon.resources import get_or_404

bp = APIBlueprint("products", __name__, url_prefix="/products", abp_tags=[Tag(name="products")])


@bp.get("", operation_id="listProducts", responses={200: ProductPage, **QUERY_REFUSALS})
def list_products(query: PageQuery):
    """A page of products, by id."""
    return paginate(select(Product), Product.to_dict, Product.id, query)


@bp.get("/<id:product_id>", operation_id="getProduct", responses={200: ProductAnswer, **refused(404)})
def get_product(path: ProductPath):
    """One product, its price and its stock."""
    return get_or_404(Product, path.product_id, "product").to_dict()


@bp.post("", operation_id="createProduct", responses={201: ProductAnswer, **BODY_REFUSALS})
def create_product(body: NewProduct):
    """Add a product to the catalogue (stock 0 unless given)."""
    product = Product(name=body.name, price_cents=body.price_cents, stock=body.stock or 0)
    db.session.add(product)
    db.session.commit()
    return product.to_dict(), 201, {"Location": url_for("products.get_product", product_id=product.id)}
