"""``/api/orders``: list, read, and place orders.

Placing an order: check the user through users, save the order as pending (its reservation id
chosen here), then sell every item's stock in products in one atomic call (a reservation made
confirmed, each line priced), then confirm the order at those prices. The pending order is written
before anything is taken, so whatever dies in between leaves a record here: ``recover_pending``
settles each one left behind by asking products (releasing its reservation, which also makes a late
sale fail): sold, the order is confirmed; not, it is dropped. So stock taken always equals stock in
confirmed orders. An ``Idempotency-Key`` makes a retried POST replay the first result.
"""

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from flask import current_app, url_for
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from orders.models import IdempotencyKey, Order, OrderItem
from shopcommon import APIError, db, tracing
from shopcommon.api import BODY_REFUSALS, QUERY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.clients import ProductsClient, ReservationSold, UsersClient
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

    Check the user, save the order as pending, sell its stock, confirm it. 409
    `insufficient_stock` or `request_in_progress`; 422 `unknown_user`, `unknown_product` or
    `idempotency_key_reused`; 503 when users or products cannot answer.
    """
    user_id, lines, key = body.user_id, body.lines, header.key
    if key:
        replay = _claim(key, _fingerprint(user_id, lines))
        if replay is not None:
            return replay
    # _claim has committed: no transaction (no SQLite write lock) waits on users and products
    try:
        _check_user(user_id)
        pending = _save_pending(user_id, uuid.uuid4().hex, key)
    except Exception:
        if key:
            _unclaim(key)
        raise
    tracing.tag("shop.order_id", pending.id)  # how the order's page finds its trace
    placed = _sell(pending, lines)
    return placed, 201, {"Location": url_for("orders.get_order", order_id=placed["id"])}


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


class Pending(NamedTuple):
    """An order written pending: what its confirmation and its answer need of it."""

    id: int
    user_id: int
    reservation_id: str
    created_at: datetime


def _save_pending(user_id: int, reservation_id: str, key: str | None) -> Pending:
    """Store the order, pending, with no items yet, and bind its key to it, in one transaction: the
    record that lets ``recover_pending`` settle it whatever happens next.

    This and ``_confirm`` are every order's path, so they are SQLAlchemy Core statements, not the
    ORM's unit of work, whose flush cost more than the statements themselves (docs/performance.md)."""
    try:
        # created_at is the column's default, taken as the statement runs: after the write lock, not
        # while the request waited for it (an order stamped before a long wait would be old to
        # ``recover_pending`` the moment it is written, and dropped under its own request)
        order_id, created = db.session.execute(insert(Order).values(
            user_id=user_id, reservation_id=reservation_id, status="pending", total_cents=0)
            .returning(Order.id, Order.created_at)).one()
        if key and not db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == key)
                                          .values(order_id=order_id)).rowcount:
            raise RuntimeError(f"the Idempotency-Key {key!r} claimed for this order is no longer stored")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return Pending(order_id, user_id, reservation_id, created)


def _sell(order: Pending, lines: list[OrderLine]) -> dict:
    """Sell the pending order's stock in products, then confirm the order at the prices sold; the
    order as the API shows it.

    A refusal (short stock, an unknown product, the mesh's denial) leaves nothing sold: the order is
    dropped and the refusal passed on. When the answer is lost (a timeout, a broken connection), what
    products did is found out at once: settled, the order is placed or dropped; when products cannot
    be asked at all, the order stays pending for ``recover_pending`` and the caller hears 503.
    """
    try:
        reservation = ProductsClient.current().reserve(order.reservation_id, lines, sell=True)
    except UpstreamUnavailable:
        try:
            placed = _settle(order.id, order.reservation_id)
        except APIError:
            placed = None  # products cannot be asked: the order stays pending
        if placed is None:
            raise
        return placed
    except APIError:
        _drop(order.id)
        raise
    items, total = Order.priced(order.id, reservation.lines)
    if _confirm(order.id, items, total):
        return Order.answer(order.id, order.user_id, items, total, "confirmed", order.created_at)
    return _stored(order.id)  # confirmed meanwhile by recover_pending, from the same sale


def _settle(order_id: int, reservation_id: str) -> dict | None:
    """What became of a pending order's sale, asked of products: sold, the order confirmed (the
    order returned, as the API shows it); not, its reservation released, so a sale still on its way
    fails, and the order dropped (None). Raises ``APIError`` when products cannot be asked."""
    products = ProductsClient.current()
    try:
        products.release(reservation_id)
    except ReservationSold:
        reservation = products.reservation(reservation_id)
        if reservation is None:
            raise UpstreamUnavailable("products", f"reservation {reservation_id} was sold, then not found") from None
        _confirm(order_id, *Order.priced(order_id, reservation.lines))
        return _stored(order_id)
    _drop(order_id)
    return None


def _confirm(order_id: int, items: list[dict], total_cents: int) -> bool:
    """Confirm the pending order with the items and prices its stock was sold at (``Order.priced``),
    in one transaction; whether this call confirmed it. Confirming twice (the request and
    ``recover_pending`` both at it) changes nothing the second time."""
    confirmed = db.session.execute(update(Order).where(Order.id == order_id, Order.status == "pending")
                                   .values(status="confirmed", total_cents=total_cents)).rowcount
    if confirmed and items:
        db.session.execute(insert(OrderItem), items)
    db.session.commit()
    return bool(confirmed)


def _stored(order_id: int) -> dict:
    """The order as it is stored, as the API shows it."""
    return db.session.get_one(Order, order_id).to_dict()


def _drop(order_id: int) -> None:
    """Delete a pending order whose stock was never sold, and free its key for a retry."""
    db.session.rollback()  # whatever the failure left open
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.order_id == order_id))
    order = db.session.scalar(select(Order).where(Order.id == order_id, Order.status == "pending"))
    if order is not None:
        db.session.delete(order)
    db.session.commit()


def recover_pending() -> int:
    """Settle the orders left pending longer than ``PENDING_GRACE_SECONDS`` (their request died, or
    products could not be asked): each confirmed if products sold its stock, else dropped. Run in
    the background by every worker; how many were settled."""
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
            placed = _settle(order_id, reservation_id)
        except APIError:
            continue  # products cannot be asked now: next round
        if placed is not None:
            log.info("pending order confirmed", extra={"fields": {"order_id": order_id}})
        else:
            log.warning("pending order dropped: its stock was never sold",
                        extra={"fields": {"order_id": order_id, "reservation_id": reservation_id}})
        settled += 1
    return settled
