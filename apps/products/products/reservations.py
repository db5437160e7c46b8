"""``/products/reservations/<id>``: hold stock for an order, atomically, and give it back.

The caller (orders) picks the reservation id, so every call is idempotent: repeating a PUT returns
the reservation already made, and a DELETE that arrives before its PUT leaves a "released" marker
that makes the late PUT fail instead of holding stock nobody will release.
"""

import re
from collections import defaultdict

from flask import Blueprint
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from products.models import Product, Reservation, ReservationItem
from shopcommon import APIError, db
from shopcommon.errors import INSUFFICIENT_STOCK, UNKNOWN_PRODUCT
from shopcommon.resources import get_or_404
from shopcommon.validation import Fields, json_body, order_items

bp = Blueprint("reservations", __name__, url_prefix="/products/reservations")

RESERVATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _check_id(reservation_id: str) -> None:
    if not RESERVATION_ID.match(reservation_id):
        raise APIError(400, "invalid_reservation_id",
                       "a reservation id is 1 to 64 letters, digits, '-' or '_'",
                       {"id": "must match [A-Za-z0-9_-]{1,64}"})


def _existing(reservation_id: str):
    """The answer to a repeated PUT."""
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None:
        return None
    if reservation.status != "reserved":
        raise APIError(409, "reservation_released",
                       f"reservation {reservation_id} was already released", {"id": "already released"})
    return reservation.to_dict(), 200


@bp.get("/<reservation_id>")
def get_reservation(reservation_id: str):
    _check_id(reservation_id)
    return get_or_404(Reservation, reservation_id, "reservation").to_dict()


@bp.put("/<reservation_id>")
def reserve(reservation_id: str):
    """Take every item's quantity out of stock, all or nothing."""
    _check_id(reservation_id)
    fields = Fields(json_body())
    lines = order_items(fields)
    fields.check()

    previous = _existing(reservation_id)
    if previous:
        return previous

    wanted: dict[int, int] = defaultdict(int)
    labels: dict[int, str] = {}
    for index, line in enumerate(lines):
        wanted[line.product_id] += line.quantity
        labels.setdefault(line.product_id, f"items[{index}]")

    try:
        reservation = _take_stock(reservation_id, wanted, labels)
    except IntegrityError:
        # the same id was reserved or released concurrently; answer as for a repeat
        db.session.rollback()
        previous = _existing(reservation_id)
        if previous:
            return previous
        raise
    return reservation.to_dict(), 201


def _take_stock(reservation_id: str, wanted: dict[int, int], labels: dict[int, str]) -> Reservation:
    reservation = Reservation(id=reservation_id, status="reserved")
    db.session.add(reservation)
    missing, short = {}, {}
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
            reservation.items.append(
                ReservationItem(product_id=product_id, quantity=quantity, unit_price_cents=price))
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
    db.session.commit()
    return reservation


@bp.delete("/<reservation_id>")
def release(reservation_id: str):
    """Put the reserved stock back; releasing twice, or before reserving, is harmless."""
    _check_id(reservation_id)
    reservation = db.session.scalar(
        select(Reservation).where(Reservation.id == reservation_id).with_for_update())
    if reservation is None:
        db.session.add(Reservation(id=reservation_id, status="released"))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return release(reservation_id)
        return {"id": reservation_id, "status": "released", "items": [], "total": "0.00"}
    if reservation.status == "reserved":
        for item in reservation.items:
            db.session.execute(
                update(Product).where(Product.id == item.product_id)
                .values(stock=Product.stock + item.quantity))
        reservation.status = "released"
        db.session.commit()
    return reservation.to_dict()
