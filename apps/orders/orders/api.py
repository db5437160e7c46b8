"""``/api/orders``: list, read, and place orders.

Placing an order: check the user through users, reserve every item's stock in products in one
atomic call (held for a while), save the order as pending with each item's unit-price snapshot,
then confirm the reservation in products (the stock is sold) and the order with it. If saving
fails, the reservation is released; if the process dies anywhere in between, the reservation
expires in products by itself and ``recover_pending`` settles the pending order (confirmed if
products confirms, dropped if its reservation is gone), so stock taken always equals stock in
confirmed orders. An ``Idempotency-Key`` makes a retried POST replay the first result.
"""

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

from flask import current_app, url_for
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from orders.models import IdempotencyKey, Order
from shopcommon import APIError, db, tracing
from shopcommon.api import BODY_REFUSALS, QUERY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.clients import ProductsClient, Reservation, ReservationLost, UsersClient
from shopcommon.contract import (IDEMPOTENCY_HEADER, IdempotencyHeader, NewOrder, OrderLine, OrderPage, OrderPath,
                                 OrderQuery)
from shopcommon.contract import Order as OrderAnswer
from shopcommon.errors import UNKNOWN_USER
from shopcommon.pagination import paginate
from shopcommon.upstream import UpstreamUnavailable

bp = APIBlueprint("orders", __name__, url_prefix="/api/orders", abp_tags=[Tag(name="orders")])
log = logging.getLogger("shop")
CONFIRMED = Order.status == "confirmed"  # what the API shows: a pending order is not an order yet


@bp.get("/<id:order_id>", operation_id="getOrder", responses={200: OrderAnswer, **refused(404)})
def get_order(path: OrderPath):
    """One confirmed order, its prices as they were when it was placed."""
    order = db.session.scalar(select(Order).where(Order.id == path.order_id, CONFIRMED))
    if order is None:
        raise APIError(404, "order_not_found", f"order {path.order_id} does not exist", {"id": "no such order"})
    return order.to_dict()


@bp.get("", operation_id="listOrders", responses={200: OrderPage, **QUERY_REFUSALS})
def list_orders(query: OrderQuery):
    """A page of the confirmed orders, by id.

    `user_id` for one user's.
    """
    orders = select(Order).where(CONFIRMED)
    if query.user_id is not None:
        orders = orders.where(Order.user_id == query.user_id)
    return paginate(orders, Order.to_dict, Order.id, query)


@bp.post("", operation_id="createOrder",
         responses={201: OrderAnswer, **BODY_REFUSALS, **refused(409, 422, 503)})
def create_order(header: IdempotencyHeader, body: NewOrder):
    """Place an order.

    Check the user, reserve the stock, save the order as pending, confirm it. 409
    `insufficient_stock` or `request_in_progress`; 422 `unknown_user`, `unknown_product` or
    `idempotency_key_reused`; 503 when users or products cannot answer, or `order_expired`.
    """
    user_id, lines, key = body.user_id, body.lines, header.key
    if key:
        replay = _claim(key, _fingerprint(user_id, lines))
        if replay is not None:
            return replay
    # _claim has committed: no transaction (no SQLite write lock) waits on users and products
    try:
        _check_user(user_id)
        reservation = _reserve(uuid.uuid4().hex, lines)
        order = _save(user_id, reservation, key)
        tracing.tag("shop.order_id", order.id)  # how the order's page finds its trace
    except Exception:
        if key:
            _unclaim(key)
        raise
    order = _confirm(order.id, order.reservation_id)
    return order.to_dict(), 201, {"Location": url_for("orders.get_order", order_id=order.id)}


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
    if first.order is None or first.order.status != "confirmed":
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
    """Store the order, pending, and bind its key to it, in one transaction; give the stock back if
    that fails."""
    try:
        order = Order.from_lines(user_id, reservation.id, reservation.lines)
        order.status = "pending"
        db.session.add(order)
        if key:
            db.session.get_one(IdempotencyKey, key).order = order
        db.session.commit()
    except Exception:
        db.session.rollback()
        _release(reservation.id)
        raise
    return order


def _confirm(order_id: int, reservation_id: str) -> Order:
    """Sell the order's held stock in products, then confirm the order; the confirmed order.

    A reservation that expired meanwhile takes the order with it (its stock is back in products):
    the caller is told to place it again. When products cannot be asked, the order stays pending
    and ``recover_pending`` settles it; a retry with the same key hears it is in progress.
    """
    try:
        ProductsClient.current().confirm(reservation_id)
    except ReservationLost as err:
        _drop(order_id)
        raise APIError(503, "order_expired", "the order took too long and its stock was given back; "
                       "place it again", {"reservation": err.message}) from None
    db.session.execute(update(Order).where(Order.id == order_id, Order.status == "pending")
                       .values(status="confirmed"))
    db.session.commit()
    order = db.session.get_one(Order, order_id)  # the request's own object, when it has one
    set_committed_value(order, "status", "confirmed")
    return order


def _drop(order_id: int) -> None:
    """Delete a pending order whose stock is gone, and free its key for a retry."""
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.order_id == order_id))
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.status == "pending"))
    if order is not None:
        db.session.delete(order)
    db.session.commit()


def recover_pending() -> int:
    """Settle the orders left pending longer than ``PENDING_GRACE_SECONDS`` (their request died, or
    products could not be asked): confirm each in products, or drop it when its reservation is gone.
    Run in the background by every worker; how many were settled."""
    grace = timedelta(seconds=float(current_app.config.get("PENDING_GRACE_SECONDS", 10)))
    before = datetime.now(timezone.utc) - grace
    pending = db.session.execute(select(Order.id, Order.reservation_id, Order.created_at)
                                 .where(Order.status == "pending").order_by(Order.id).limit(100)).all()
    db.session.rollback()
    settled = 0
    for order_id, reservation_id, created in pending:
        if (created if created.tzinfo else created.replace(tzinfo=timezone.utc)) > before:
            continue  # its request is probably still at it
        try:
            _confirm(order_id, reservation_id)
            log.info("pending order confirmed", extra={"fields": {"order_id": order_id}})
        except APIError as err:
            if err.code != "order_expired":
                continue  # products cannot be asked now: next round
            log.warning("pending order dropped: its reservation expired",
                        extra={"fields": {"order_id": order_id, "reservation_id": reservation_id}})
        settled += 1
    return settled


def _release(reservation_id: str) -> None:
    """Give back the stock; a failure here is logged, never hides the original error."""
    try:
        ProductsClient.current().release(reservation_id)
    except APIError as err:
        log.error("could not release reservation; its stock stays held",
                  extra={"fields": {"reservation_id": reservation_id, "reason": err.message}})
