from datetime import datetime, timezone

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopcommon import db
from flask import current_app

from shopcommon.contract import LOW_STOCK, format_money


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Product(db.Model):
    __tablename__ = "products"
    # the database itself refuses negative stock, whatever the code above it does
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    def to_dict(self) -> dict:
        answer = {"id": self.id, "name": self.name, "price": format_money(self.price_cents), "stock": self.stock}
        if current_app.config.get("SERVICE_VERSION", "v1") != "v1":  # v2: what the canary adds
            answer["availability"] = ("sold_out" if self.stock == 0 else "low_stock" if self.stock <= LOW_STOCK
                                      else "in_stock")
        return answer


class Reservation(db.Model):
    """Stock held for one order; its id is chosen by the caller so retries are idempotent.

    ``reserved`` (held until ``expires_at``) → ``confirmed`` (its order is saved: the stock is sold),
    or → ``released`` (its caller gave it back) or ``expired`` (nobody confirmed it in time: the
    stock went back by itself). Only a ``reserved`` one changes.
    """

    __tablename__ = "reservations"
    __table_args__ = (Index("reservations_due", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    # milliseconds since the epoch: compared in SQL the same way by SQLite and PostgreSQL
    expires_at: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    items: Mapped[list["ReservationItem"]] = relationship(
        order_by="ReservationItem.product_id", cascade="all, delete-orphan"
    )

    def to_dict(self) -> dict:
        return self.answer(self.id, self.status, [{"product_id": item.product_id, "quantity": item.quantity,
                                                   "unit_price_cents": item.unit_price_cents} for item in self.items])

    @staticmethod
    def answer(reservation_id: str, status: str, items: list[dict]) -> dict:
        """A reservation as the API shows it, from its rows' values: ``items`` by product id, each
        with ``product_id``, ``quantity`` and ``unit_price_cents``."""
        return {"id": reservation_id, "status": status,
                "items": [{"product_id": item["product_id"], "quantity": item["quantity"],
                           "unit_price": format_money(item["unit_price_cents"])} for item in items],
                "total": format_money(sum(item["quantity"] * item["unit_price_cents"] for item in items))}


class ReservationItem(db.Model):
    __tablename__ = "reservation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
