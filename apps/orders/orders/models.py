from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopcommon import db
from shopcommon.contract import PricedLine
from shopcommon.contract import format_money


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Order(db.Model):
    """An order, its prices fixed. ``pending`` from when it is written until products has sold its
    stock (no items yet), ``confirmed`` after, with its items at the prices sold: only a confirmed
    order is one; a pending one is never shown, and is dropped if products never sold its stock."""

    __tablename__ = "orders"
    # an id is never given twice, not even one of a pending order that was dropped (SQLite would
    # reuse the highest id after its row is deleted): logs and traces name orders by id
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    reservation_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    items: Mapped[list["OrderItem"]] = relationship(
        order_by="OrderItem.id", cascade="all, delete-orphan"
    )

    @staticmethod
    def priced(order_id: int, lines: Sequence[PricedLine]) -> tuple[list[dict], int]:
        """Order ``order_id``'s item rows of ``lines`` at the prices they were sold at (``order_items``'
        columns, for an insert), and their total."""
        items = [{"order_id": order_id, "product_id": line.product_id, "quantity": line.quantity,
                  "unit_price_cents": line.unit_price_cents} for line in lines]
        return items, sum(line.quantity * line.unit_price_cents for line in lines)

    def to_dict(self) -> dict:
        items = [{"product_id": item.product_id, "quantity": item.quantity, "unit_price_cents": item.unit_price_cents}
                 for item in self.items]
        return self.answer(self.id, self.user_id, items, self.total_cents, self.status, self.created_at)

    @staticmethod
    def answer(order_id: int, user_id: int, items: Sequence[dict], total_cents: int, status: str,
               created_at: datetime) -> dict:
        """An order as the API shows it, from its rows' values (``items``: each with ``product_id``,
        ``quantity`` and ``unit_price_cents``, in the order they were written)."""
        if created_at.tzinfo is None:  # SQLite hands back naive datetimes
            created_at = created_at.replace(tzinfo=timezone.utc)
        return {
            "id": order_id,
            "user_id": user_id,
            "items": [{"product_id": item["product_id"], "quantity": item["quantity"],
                       "unit_price": format_money(item["unit_price_cents"])} for item in items],
            "total": format_money(total_cents),
            "status": status,  # only confirmed orders are ever shown
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
        }


class OrderItem(db.Model):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)


class IdempotencyKey(db.Model):
    """An ``Idempotency-Key`` and the request it came with: in flight while ``order_id`` is empty.

    The primary key is the lock: of several requests with one key, only the first inserts its row;
    the others read it and replay its order, or learn that it is still being placed.
    """

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # when the key was claimed: what an operator goes by before deleting long-finished keys
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    order: Mapped[Order | None] = relationship()
