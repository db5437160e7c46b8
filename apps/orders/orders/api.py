"""``/api/orders``: list, read, and place orders.

Placing an order: check the user through users, reserve every item's stock in products in one
atomic call, save the order with each item's unit-price snapshot, and release the reservation if
anything after it fails. An ``Idempotency-Key`` makes a retried POST replay the first result.
"""

import hashlib
import json
import logging
import uuid

from flask import Blueprint, current_app, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orders.models import Order, OrderItem
from shopcommon import APIError, db
from shopcommon.pagination import paginate
from shopcommon.upstream import Upstream
from shopcommon.validation import Fields, json_body, order_items, parse_money

bp = Blueprint("orders", __name__, url_prefix="/api/orders")
log = logging.getLogger("shop")

IDEMPOTENCY_HEADER = "Idempotency-Key"
# answers after which products certainly holds no stock for the reservation
DEFINITE_REFUSALS = {"insufficient_stock", "unknown_product", "upstream_denied"}


def _upstream(name: str) -> Upstream:
    return current_app.extensions[f"upstream.{name}"]


@bp.get("")
def list_orders():
    query = select(Order).where(Order.status == "confirmed")
    user_id = request.args.get("user_id")
    if user_id is not None:
        if not user_id.isdigit() or int(user_id) > 2**31 - 1:
            raise APIError(400, "invalid_query", "user_id must be a whole number",
                           {"user_id": "must be a whole number"})
        query = query.where(Order.user_id == int(user_id))
    return paginate(query, Order.to_dict, Order.id)


@bp.get("/<id:order_id>")
def get_order(order_id: int):
    order = db.session.get(Order, order_id)
    if order is None or order.status != "confirmed":
        raise APIError(404, "order_not_found", f"order {order_id} does not exist", {"id": "no such order"})
    return order.to_dict()


@bp.post("")
def create_order():
    fields = Fields(json_body())
    user_id = fields.integer("user_id", minimum=1)
    items = order_items(fields)
    fields.check()
    key = _idempotency_key()
    fingerprint = hashlib.sha256(json.dumps([user_id, items]).encode()).hexdigest()

    order_id = None
    reservation_id = uuid.uuid4().hex
    if key:
        replay = _claim(key, fingerprint, user_id, reservation_id)
        if replay is not None:
            return replay
        order_id = db.session.scalar(select(Order.id).where(Order.idempotency_key == key))
    # hold no transaction (SQLite: no write lock) while users and products are called
    db.session.rollback()

    reserved = False
    try:
        _check_user(user_id)
        try:
            reservation = _reserve(reservation_id, items)
        except APIError as err:
            # a timeout or a broken connection leaves it unknown whether products reserved
            reserved = err.code not in DEFINITE_REFUSALS
            raise
        reserved = True
        order = (db.session.get(Order, order_id) if order_id is not None
                 else Order(user_id=user_id, status="pending", reservation_id=reservation_id))
        for item in reservation["items"]:
            order.items.append(OrderItem(
                product_id=item["product_id"], quantity=item["quantity"],
                unit_price_cents=parse_money(item["unit_price"])))
        order.total_cents = sum(i.quantity * i.unit_price_cents for i in order.items)
        order.status = "confirmed"
        db.session.add(order)
        db.session.commit()
    except Exception:
        db.session.rollback()
        if reserved:
            _release(reservation_id)
        if key:
            _unclaim(key)
        raise
    return order.to_dict(), 201, {"Location": url_for("orders.get_order", order_id=order.id)}


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= 255 or not key.isprintable():
        raise APIError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable characters",
                       {IDEMPOTENCY_HEADER: "must be 1 to 255 printable characters"})
    return key


def _claim(key: str, fingerprint: str, user_id: int, reservation_id: str):
    """Record that ``key``'s first request is in flight, or answer for the request that already did."""
    db.session.add(Order(user_id=user_id, status="pending", reservation_id=reservation_id,
                         idempotency_key=key, request_hash=fingerprint))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    first = db.session.scalar(select(Order).where(Order.idempotency_key == key))
    if first is None:  # the first request failed and let go of the key meanwhile
        return _claim(key, fingerprint, user_id, reservation_id)
    if first.request_hash != fingerprint:
        raise APIError(422, "idempotency_key_reused",
                       "this Idempotency-Key was used for a different order",
                       {IDEMPOTENCY_HEADER: "already used with another body"})
    if first.status != "confirmed":
        raise APIError(409, "request_in_progress",
                       "the first request with this Idempotency-Key is still being processed; retry shortly",
                       {IDEMPOTENCY_HEADER: "in progress"})
    return first.to_dict(), 201, {"Location": url_for("orders.get_order", order_id=first.id),
                                  "Idempotent-Replayed": "true"}


def _unclaim(key: str) -> None:
    """Forget a failed request's key so nothing of it stays stored and a retry starts afresh."""
    order = db.session.scalar(select(Order).where(Order.idempotency_key == key))
    if order is not None and order.status == "pending":
        db.session.delete(order)
        db.session.commit()


def _check_user(user_id: int) -> None:
    response = _upstream("users").call("GET", f"/api/users/{user_id}")
    if response.status_code == 404:
        raise APIError(422, "unknown_user", f"user {user_id} does not exist", {"user_id": "no such user"})
    if response.status_code != 200:
        raise APIError(503, "upstream_unavailable",
                       f"users answered HTTP {response.status_code} when asked for user {user_id}",
                       {"upstream": "users"})


def _reserve(reservation_id: str, items: list[tuple[int, int]]) -> dict:
    body = {"items": [{"product_id": p, "quantity": q} for p, q in items]}
    response = _upstream("products").call("PUT", f"/products/reservations/{reservation_id}", json=body)
    if response.status_code in (200, 201):
        return response.json()
    error = response.json().get("error", {})
    if response.status_code in (409, 422) and error.get("code") in ("insufficient_stock", "unknown_product"):
        raise APIError(response.status_code, error["code"], error.get("message", ""), error.get("fields", {}))
    raise APIError(503, "upstream_unavailable",
                   f"products refused the reservation (HTTP {response.status_code})",
                   {"upstream": "products", "detail": error.get("message", "")})


def _release(reservation_id: str) -> None:
    """Give back the stock; a failure here is logged, never hides the original error."""
    try:
        _upstream("products").call("DELETE", f"/products/reservations/{reservation_id}")
    except APIError as err:
        log.error("could not release reservation; its stock stays held",
                  extra={"fields": {"reservation_id": reservation_id, "reason": err.message}})
