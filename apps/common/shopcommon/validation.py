"""Reading and checking JSON request bodies; every problem names its field."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request

from shopcommon.errors import APIError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# a billion per unit: beyond any real price, and 50 items x MAX_QUANTITY of it still fits a BIGINT total
MAX_CENTS = 10**11
MAX_INT = 2**31 - 1  # ids, stock: what a 32-bit INTEGER column holds
MAX_QUANTITY = 1_000_000


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 415/400 naming what is wrong with it."""
    if request.mimetype != "application/json":
        raise APIError(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
            {"Content-Type": f"expected application/json, got {request.mimetype or 'nothing'}"},
        )
    body = request.get_json(silent=True)
    if body is None:
        raise APIError(400, "malformed_json", "the request body is not valid JSON")
    if not isinstance(body, dict):
        raise APIError(400, "invalid_body", "the request body must be a JSON object")
    return body


class Fields:
    """Collects per-field problems so one response names all of them."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        self.errors: dict[str, str] = {}

    def fail(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, problem)

    def check(self) -> None:
        """Raise a 400 naming every field that failed."""
        if self.errors:
            names = ", ".join(sorted(self.errors))
            raise APIError(400, "validation_failed", f"invalid fields: {names}", self.errors)

    def text(self, name: str, max_length: int = 200) -> str | None:
        value = self.body.get(name)
        if value is None:
            self.fail(name, "is required")
        elif not isinstance(value, str):
            self.fail(name, "must be a string")
        elif not value.strip():
            self.fail(name, "must not be empty")
        elif len(value.strip()) > max_length:
            self.fail(name, f"must be at most {max_length} characters")
        else:
            return value.strip()
        return None

    def email(self, name: str) -> str | None:
        value = self.text(name, max_length=254)
        if value is not None and not EMAIL_RE.match(value):
            self.fail(name, "must be an email address like name@example.com")
            return None
        return value.lower() if value else None

    def integer(self, name: str, minimum: int | None = None, required: bool = True) -> int | None:
        if name not in self.body or self.body[name] is None:
            if required:
                self.fail(name, "is required")
            return None
        return self.integer_value(name, self.body[name], minimum)

    def integer_value(self, label: str, value: Any, minimum: int | None = None,
                      maximum: int = MAX_INT) -> int | None:
        # bool is an int in Python, but true is not a quantity
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(label, "must be an integer")
        elif minimum is not None and value < minimum:
            self.fail(label, "must be positive" if minimum == 1 else f"must be at least {minimum}")
        elif value > maximum:
            self.fail(label, f"must be at most {maximum}")
        else:
            return value
        return None

    def money(self, name: str) -> int | None:
        """A non-negative amount with at most two decimals, returned in cents."""
        if name not in self.body or self.body[name] is None:
            self.fail(name, "is required")
            return None
        try:
            return parse_money(self.body[name])
        except ValueError as exc:
            self.fail(name, str(exc))
            return None


def parse_money(value: Any) -> int:
    """Cents from a decimal string or number such as ``"19.99"``; ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError('must be a decimal string like "19.99" or a number')
    try:
        # str() of a float is its shortest round-trip form, so 19.99 stays 19.99
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError('must be a decimal string like "19.99"') from None
    if not amount.is_finite():
        raise ValueError("must be a finite amount")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValueError("must have at most two decimal places")
    cents = int(amount * 100)
    if cents >= MAX_CENTS:
        raise ValueError("is too large")
    return cents


def format_money(cents: int) -> str:
    """``1999`` -> ``"19.99"``."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


MAX_ITEMS = 50


@dataclass(frozen=True)
class OrderLine:
    """One item of an order as every service handles it: a product and how many of it."""

    product_id: int
    quantity: int


def order_items(fields: Fields, name: str = "items") -> list[OrderLine]:
    """``[{product_id, quantity}, …]`` as order lines, each field checked."""
    value = fields.body.get(name)
    if value is None:
        fields.fail(name, "is required")
        return []
    if not isinstance(value, list):
        fields.fail(name, "must be a list of {product_id, quantity}")
        return []
    if not value:
        fields.fail(name, "must contain at least one item")
        return []
    if len(value) > MAX_ITEMS:
        fields.fail(name, f"must contain at most {MAX_ITEMS} items")
        return []
    lines = []
    for index, item in enumerate(value):
        label = f"{name}[{index}]"
        if not isinstance(item, dict):
            fields.fail(label, "must be an object {product_id, quantity}")
            continue
        parsed = []
        for key in ("product_id", "quantity"):
            if item.get(key) is None:
                fields.fail(f"{label}.{key}", "is required")
            else:
                maximum = MAX_QUANTITY if key == "quantity" else MAX_INT
                parsed.append(fields.integer_value(f"{label}.{key}", item[key], minimum=1, maximum=maximum))
        if len(parsed) == 2 and None not in parsed:
            lines.append(OrderLine(*parsed))
    return lines


# The two checks below serve both the service's API and the frontend's form, so a person sees the
# same message next to a field as an API client sees in the error's ``fields``.

def order_request(body: dict[str, Any]) -> tuple[int, list[OrderLine]]:
    """``{user_id, items}`` as ``(user_id, lines)``, or a 400 naming every bad field."""
    fields = Fields(body)
    user_id = fields.integer("user_id", minimum=1)
    lines = order_items(fields)
    fields.check()
    return user_id, lines


def product_request(body: dict[str, Any]) -> tuple[str, int, int]:
    """``{name, price, stock?}`` as ``(name, price_cents, stock)``, or a 400 naming every bad field."""
    fields = Fields(body)
    name = fields.text("name")
    price_cents = fields.money("price")
    stock = fields.integer("stock", minimum=0, required=False)
    fields.check()
    return name, price_cents, stock or 0
