"""``/api/orders``: list, read, and place orders.

Placing an order: check the user through users, reserve every item's stock in products in one
atomic call, save the order with each item's unit-price snapshot, and release the reservation if
anything after it fails. An ``Idempotency-Key`` makes a retried POST replay the first result.
"""

import hashlib
import json
import logging
import uuid

from flask import Blueprint, request, url_for
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from orders.models import IdempotencyKey, Order
from shopcommon import APIError, db
from shopcommon.clients import ProductsClient, Reservation, UsersClient
from shopcommon.errors import UNKNOWN_USER
from shopcommon.resources import read_routes
from shopcommon.pagination import paginate
from shopcommon.upstream import UpstreamUnavailable
from shopcommon.validation import OrderLine, json_body, order_request

bp = Blueprint("orders", __name__, url_prefix="/api/orders")
read_routes(bp, Order, "order", listing=False)  # GET /api/orders/<id>; the list below filters by user
log = logging.getLogger("shop")

IDEMPOTENCY_HEADER = "Idempotency-Key"


@bp.get("")
def list_orders():
    query = select(Order)
    user_id = request.args.get("user_id")
    if user_id is not None:
        if not user_id.isdigit() or int(user_id) > 2**31 - 1:
            raise APIError(400, "invalid_query", "user_id must be a whole number",
                           {"user_id": "must be a whole number"})
        query = query.where(Order.user_id == int(user_id))
    return paginate(query, Order.to_dict, Order.id)


@bp.post("")
def create_order():
    """Validate, claim the key (or replay), check the user, reserve the stock, save the order."""
    user_id, lines = order_request(json_body())
    key = _idempotency_key()
    if key:
        replay = _claim(key, _fingerprint(user_id, lines))
        if replay is not None:
            return replay
    # _claim has committed: no transaction (no SQLite write lock) waits on users and products
    try:
        _check_user(user_id)
        reservation = _reserve(uuid.uuid4().hex, lines)
        order = _save(user_id, reservation, key)
    except Exception:
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


def _fingerprint(user_id: int, lines: list[OrderLine]) -> str:
    """What makes two requests the same order, as a key's row remembers it."""
    body = [user_id, [[line.product_id, line.quantity] for line in lines]]
    return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def _claim(key: str, fingerprint: str):
    """Record that ``key``'s first request is in flight, or answer for the request that already did."""
    db.session.add(IdempotencyKey(key=key, request_hash=fingerprint))
    try:
        db.session.commit()
        return None
    except IntegrityError:
        db.session.rollback()
    first = db.session.get(IdempotencyKey, key)
    if first is None:  # the first request failed and let go of the key meanwhile
        return _claim(key, fingerprint)
    if first.request_hash != fingerprint:
        raise APIError(422, "idempotency_key_reused",
                       "this Idempotency-Key was used for a different order",
                       {IDEMPOTENCY_HEADER: "already used with another body"})
    if first.order is None:
        raise APIError(409, "request_in_progress",
                       "the first request with this Idempotency-Key is still being processed; retry shortly",
                       {IDEMPOTENCY_HEADER: "in progress"})
    return first.order.to_dict(), 201, {"Location": url_for("orders.get_order", order_id=first.order.id),
                                        "Idempotent-Replayed": "true"}


def _unclaim(key: str) -> None:
    """Forget a failed request's key so nothing of it stays stored and a retry starts afresh."""
    # a key already bound to an order belongs to that order: only an unbound claim is let go
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key,
                                                    IdempotencyKey.order_id.is_(None)))
    db.session.commit()


def _check_user(user_id: int) -> None:
    if not UsersClient.current().exists(user_id):
        raise APIError(422, UNKNOWN_USER, f"user {user_id} does not exist", {"user_id": "no such user"})


def _reserve(reservation_id: str, lines: list[OrderLine]) -> Reservation:
    """Hold the stock of every line in products; if that fails, leave none of it held."""
    try:
        return ProductsClient.current().reserve(reservation_id, lines)
    except UpstreamUnavailable:
        # a timeout or a broken connection leaves it unknown whether products reserved; releasing is
        # harmless if it did not, and makes a reservation still on its way fail. A definite refusal
        # (short stock, unknown product, the mesh's denial) leaves nothing held to release.
        _release(reservation_id)
        raise


def _save(user_id: int, reservation: Reservation, key: str | None) -> Order:
    """Store the order and bind its key to it, in one transaction; give the stock back if that fails."""
    try:
        order = Order.from_lines(user_id, reservation.id, reservation.lines)
        db.session.add(order)
        if key:
            db.session.get_one(IdempotencyKey, key).order = order
        db.session.commit()
    except Exception:
        db.session.rollback()
        _release(reservation.id)
        raise
    return order


def _release(reservation_id: str) -> None:
    """Give back the stock; a failure here is logged, never hides the original error."""
    try:
        ProductsClient.current().release(reservation_id)
    except APIError as err:
        log.error("could not release reservation; its stock stays held",
                  extra={"fields": {"reservation_id": reservation_id, "reason": err.message}})
