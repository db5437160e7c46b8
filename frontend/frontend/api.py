"""``/api/users…``, ``/api/products…``, ``/api/orders…`` forwarded to the services through the sidecar.

Each operation is declared with the services' own models (``shopcommon.contract``), so the frontend's
OpenAPI document (``/openapi.json``, ``/docs/swagger``) is the public API, and a request the service
would refuse is refused here first, in the same words. What passes is relayed as it came; the
service's status and JSON body come back unchanged.
"""

from flask import Response, current_app, request

from frontend.security import csrf
from shopcommon.api import BODY_REFUSALS, QUERY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.contract import (IdempotencyHeader, NewOrder, NewProduct, NewUser, Order, OrderPage, OrderPath,
                                 OrderQuery, PageQuery, Product, ProductPage, ProductPath, User, UserPage, UserPath,
                                 json_body)
from shopcommon.upstream import Upstream

bp = APIBlueprint("api", __name__, url_prefix="/api", abp_responses=refused(503),
                  abp_tags=[Tag(name="shop", description="the shop's public API: users, products and orders")])
# API clients (curl, scripts) call these with no cookie, and nothing here reads the session. What keeps
# another site from making a browser post here is that a body must be application/json (json_body:
# anything else is a 415), which a page on another site cannot send without the browser asking first
csrf.exempt(bp)

# request headers the services act on, passed along with the call
FORWARDED_HEADERS = ("Idempotency-Key",)

# frontend path prefix -> (upstream, path prefix on that service)
ROUTES = {
    "users": ("users", "/api/users"),
    "products": ("products", "/products"),
    "orders": ("orders", "/api/orders"),
}


def _upstream(name: str) -> Upstream:
    return current_app.extensions[f"upstream.{name}"]


def forward(resource: str, item_id: int | None = None):
    """Relay the call to the service; status and JSON body pass through unchanged."""
    service, prefix = ROUTES[resource]
    path = prefix if item_id is None else f"{prefix}/{item_id}"
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    body = json_body() if request.method == "POST" else None
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    response = _upstream(service).call(request.method, path, json=body, headers=headers)
    relayed = Response(response.content, status=response.status_code, content_type="application/json")
    if "Idempotent-Replayed" in response.headers:
        relayed.headers["Idempotent-Replayed"] = response.headers["Idempotent-Replayed"]
    if "Location" in response.headers and item_id is None:
        relayed.headers["Location"] = f"/api/{resource}/" + response.headers["Location"].rsplit("/", 1)[-1]
    return relayed


@bp.get("/users", operation_id="listUsers", responses={200: UserPage, **QUERY_REFUSALS})
def list_users(query: PageQuery):
    """A page of users, by id."""
    return forward("users")


@bp.get("/users/<id:user_id>", operation_id="getUser", responses={200: User, **refused(404)})
def get_user(path: UserPath):
    """One user."""
    return forward("users", path.user_id)


@bp.post("/users", operation_id="createUser", responses={201: User, **BODY_REFUSALS, **refused(409)})
def create_user(body: NewUser):
    """Register a user.

    Each email once: a second is 409 `duplicate_email`.
    """
    return forward("users")


@bp.get("/products", operation_id="listProducts", responses={200: ProductPage, **QUERY_REFUSALS})
def list_products(query: PageQuery):
    """A page of products, by id."""
    return forward("products")


@bp.get("/products/<id:product_id>", operation_id="getProduct", responses={200: Product, **refused(404)})
def get_product(path: ProductPath):
    """One product, its price and its stock."""
    return forward("products", path.product_id)


@bp.post("/products", operation_id="createProduct", responses={201: Product, **BODY_REFUSALS})
def create_product(body: NewProduct):
    """Add a product to the catalogue (stock 0 unless given)."""
    return forward("products")


@bp.get("/orders", operation_id="listOrders", responses={200: OrderPage, **QUERY_REFUSALS})
def list_orders(query: OrderQuery):
    """A page of the confirmed orders, by id.

    `user_id` for one user's.
    """
    return forward("orders")


@bp.get("/orders/<id:order_id>", operation_id="getOrder", responses={200: Order, **refused(404)})
def get_order(path: OrderPath):
    """One confirmed order, its prices as they were when it was placed."""
    return forward("orders", path.order_id)


@bp.post("/orders", operation_id="createOrder", responses={201: Order, **BODY_REFUSALS, **refused(409, 422)})
def create_order(header: IdempotencyHeader, body: NewOrder):
    """Place an order.

    409 `insufficient_stock` or `request_in_progress`; 422 `unknown_user`, `unknown_product` or
    `idempotency_key_reused`; 503 when a service cannot answer.
    """
    return forward("orders")
