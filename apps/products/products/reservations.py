"""``/products/reservations/<id>``: hold stock for an order, atomically, then sell it or give it back.

The caller (orders) picks the reservation id, so every call is idempotent: repeating a PUT returns
the reservation already made, and a DELETE that arrives before its PUT leaves a "released" marker
that makes the late PUT fail instead of holding stock nobody will release.

Two ways to take stock. ``sell``: the reservation is confirmed as it is made, the stock sold in one
call; orders does this, having saved its order (pending) first, so a crash on either side leaves
orders a record to settle (``orders.api.recover_pending``). Held (the default): the reservation
holds its stock for ``RESERVATION_HOLD_SECONDS`` (30 by default) until confirmed (``PUT
…/confirmation``); one nobody confirms in time expires, and its stock goes back by itself
(``expire_due``, run by every worker every ``RESERVATION_SWEEP_SECONDS``). A late confirmation fails.
"""

import time
from collections import defaultdict

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from products.models import Product, Reservation, ReservationItem
from shopcommon import APIError, db
from shopcommon.api import BODY_REFUSALS, APIBlueprint, Tag, refused
from shopcommon.contract import NewReservation, ReservationPath
from shopcommon.contract import Reservation as ReservationAnswer
from shopcommon.errors import (INSUFFICIENT_STOCK, RESERVATION_CONFIRMED, RESERVATION_EXPIRED, RESERVATION_RELEASED,
                               UNKNOWN_PRODUCT)
from shopcommon.resources import get_or_404

bp = APIBlueprint("reservations", __name__, url_prefix="/products/reservations",
                  abp_tags=[Tag(name="reservations", description="stock held for an order: orders' calls")])


def now_ms() -> int:
    return int(time.time() * 1000)


def _gone(reservation: Reservation) -> APIError:
    """The refusal for a reservation that no longer holds stock."""
    if reservation.status == "expired":
        return APIError(409, RESERVATION_EXPIRED, f"reservation {reservation.id} expired before it was confirmed",
                        {"id": "expired"})
    return APIError(409, RESERVATION_RELEASED, f"reservation {reservation.id} was already released",
                    {"id": "already released"})


def _existing(reservation_id: str):
    """The answer to a repeated PUT."""
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None:
        return None
    if reservation.status not in ("reserved", "confirmed"):
        raise _gone(reservation)
    return reservation.to_dict(), 200


@bp.get("/<reservation_id>", operation_id="getReservation",
        responses={200: ReservationAnswer, **refused(400, 404, 410)})
def get_reservation(path: ReservationPath):
    """One reservation that holds or sold stock.

    One that holds nothing any more is gone (410 `reservation_released` or `reservation_expired`): a
    DELETE released it, or nobody confirmed it in time.
    """
    reservation = get_or_404(Reservation, path.reservation_id, "reservation")
    if reservation.status not in ("reserved", "confirmed"):
        gone = _gone(reservation)
        raise APIError(410, gone.code, gone.message, gone.fields)
    return reservation.to_dict()


@bp.put("/<reservation_id>", operation_id="reserve",
        responses={200: ReservationAnswer, 201: ReservationAnswer, **BODY_REFUSALS, **refused(409, 422)})
def reserve(path: ReservationPath, body: NewReservation):
    """Hold every item's stock, all or nothing; with `sell`, sell it at once (the reservation is confirmed).

    201 with the reservation; repeated, the same reservation (200). 409 `insufficient_stock`, or a
    reservation already released or expired; 422 `unknown_product`.
    """
    reservation_id, lines = path.reservation_id, body.lines
    wanted: dict[int, int] = defaultdict(int)
    labels: dict[int, str] = {}
    for index, line in enumerate(lines):
        wanted[line.product_id] += line.quantity
        labels.setdefault(line.product_id, f"items[{index}]")

    made = _take_stock(reservation_id, wanted, labels, body.sell)
    if made is None:
        # the id is taken: a repeat, a concurrent PUT that got there first, or a DELETE that came first
        previous = _existing(reservation_id)
        if previous is None:  # the row that refused the insert is committed: it is there to read
            raise RuntimeError(f"reservation {reservation_id} refused as taken, then not found")
        return previous
    return made, 201


def _take_stock(reservation_id: str, wanted: dict[int, int], labels: dict[int, str], sell: bool) -> dict | None:
    """Make the reservation and take its stock, in one transaction; its answer, or None when the id
    is taken already. The reservation's row goes in first, and only if its id is free (``ON CONFLICT
    DO NOTHING``: no failed statement, no error in the database's log), before any stock is touched;
    a concurrent PUT of the same id waits for the first one's transaction to end.

    SQLAlchemy Core statements, not the ORM's unit of work: this is every order's path, and the
    session's flush cost more than the statements themselves (docs/performance.md)."""
    hold_ms = int(float(current_app.config.get("RESERVATION_HOLD_SECONDS", 30)) * 1000)
    status = "confirmed" if sell else "reserved"
    if db.session.scalar(insert_new(Reservation).values(id=reservation_id, status=status, expires_at=now_ms() + hold_ms)
                         .returning(Reservation.id)) is None:
        return None
    items, missing, short = [], {}, {}
    # a fixed lock order keeps two multi-item reservations from deadlocking each other
    for product_id in sorted(wanted):
        quantity = wanted[product_id]
        # the conditional decrement is the whole concurrency story: the row lock makes the check
        # and the write one step, so stock never goes below zero however many orders race
        price = db.session.scalar(
            update(Product)
            .where(Product.id == product_id, Product.stock >= quantity)
            .values(stock=Product.stock - quantity)
            .returning(Product.price_cents)
        )
        if price is not None:
            items.append({"reservation_id": reservation_id, "product_id": product_id, "quantity": quantity,
                          "unit_price_cents": price})
            continue
        stock = db.session.scalar(select(Product.stock).where(Product.id == product_id))
        if stock is None:
            missing[f"{labels[product_id]}.product_id"] = f"product {product_id} does not exist"
        else:
            short[f"{labels[product_id]}.quantity"] = f"only {stock} of product {product_id} in stock"

    if missing:
        db.session.rollback()
        raise APIError(422, UNKNOWN_PRODUCT, "the order names products that do not exist", missing)
    if short:
        db.session.rollback()
        raise APIError(409, INSUFFICIENT_STOCK, "not enough stock for every item", short)
    db.session.execute(insert(ReservationItem), items)
    db.session.commit()
    return Reservation.answer(reservation_id, status, items)


def insert_new(model):
    """An ``INSERT`` of ``model``'s table that leaves an existing row with the same primary key as
    it is (``ON CONFLICT DO NOTHING``, in the database's own dialect). Whether it inserted: ask it to
    return a column (no row: it did not); its rowcount is no answer on PostgreSQL (psycopg: -1)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing(index_elements=[model.__table__.primary_key.columns[0]])


def _locked(reservation_id: str) -> Reservation | None:
    return db.session.scalar(select(Reservation).where(Reservation.id == reservation_id).with_for_update())


def _give_back(reservation: Reservation, status: str) -> None:
    """Return a held reservation's stock and close it as ``status``, in the caller's transaction."""
    for item in reservation.items:
        db.session.execute(
            update(Product).where(Product.id == item.product_id)
            .values(stock=Product.stock + item.quantity))
    reservation.status = status


@bp.put("/<reservation_id>/confirmation", operation_id="confirmReservation",
        responses={200: ReservationAnswer, **refused(400, 404, 409)})
def confirm(path: ReservationPath):
    """Sell the held stock: its order is saved.

    Repeating it is harmless; too late, it fails (409 `reservation_expired`).
    """
    reservation_id = path.reservation_id
    reservation = _locked(reservation_id)
    if reservation is None:
        raise APIError(404, "reservation_not_found", f"reservation {reservation_id} does not exist",
                       {"id": "no such reservation"})
    if reservation.status == "reserved":
        if reservation.expires_at <= now_ms():
            _give_back(reservation, "expired")
            db.session.commit()
            raise _gone(reservation)
        reservation.status = "confirmed"
        db.session.commit()
    elif reservation.status != "confirmed":
        raise _gone(reservation)
    return reservation.to_dict()


@bp.delete("/<reservation_id>", operation_id="releaseReservation",
           responses={200: ReservationAnswer, **refused(400, 409)})
def release(path: ReservationPath):
    """Put the reserved stock back.

    Releasing twice, or before reserving, is harmless. A confirmed reservation belongs to a saved
    order: its stock stays sold (409 `reservation_confirmed`).
    """
    return _release(path.reservation_id)


def _release(reservation_id: str):
    reservation = _locked(reservation_id)
    if reservation is None:
        db.session.add(Reservation(id=reservation_id, status="released"))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return _release(reservation_id)
        return {"id": reservation_id, "status": "released", "items": [], "total": "0.00"}
    if reservation.status == "confirmed":
        raise APIError(409, RESERVATION_CONFIRMED, f"reservation {reservation_id} belongs to a placed order",
                       {"id": "confirmed"})
    if reservation.status == "reserved":
        _give_back(reservation, "released")
        db.session.commit()
    return reservation.to_dict()


def expire_due(limit: int = 100) -> int:
    """Give back the stock of every reservation held past its expiry; how many expired.

    Each in its own short transaction, re-checked under its lock: a confirmation that got there
    first wins, and several workers sweeping at once expire each reservation once.
    """
    due = db.session.scalars(select(Reservation.id).where(
        Reservation.status == "reserved", Reservation.expires_at <= now_ms()).limit(limit)).all()
    db.session.rollback()  # end the read; each reservation below is its own transaction
    expired = 0
    for reservation_id in due:
        reservation = _locked(reservation_id)
        if reservation is not None and reservation.status == "reserved" and reservation.expires_at <= now_ms():
            _give_back(reservation, "expired")
            expired += 1
        db.session.commit()
    return expired
