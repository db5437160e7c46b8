"""The shop's HTTP contract: every request and response body as a pydantic model.

The services validate requests with these models and document them in their OpenAPI (``shopcommon.api``);
the typed clients (``shopcommon.clients``) read the answers with the same ones, so a field renamed here
breaks its callers' tests, not production.

Money is integer cents inside and a decimal string with two places on the wire (``Cents``). A request
may also send a price as a number (``MoneyIn``). The rules on ids, quantities and amounts are the
models' constraints. ``problems`` turns pydantic's errors into the envelope's per-field messages.
"""

import copy
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, Literal, TypeVar

from flask import request
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      PlainValidator, StringConstraints, ValidationError, WithJsonSchema)
from pydantic_core import PydanticCustomError, PydanticUseDefault

from shopcommon.errors import APIError

MAX_INT = 2**31 - 1  # ids, stock: what a 32-bit INTEGER column holds
MAX_QUANTITY = 1_000_000
# a billion per unit: beyond any real price, and 50 items x MAX_QUANTITY of it still fits a BIGINT total
MAX_CENTS = 10**11
MAX_ITEMS = 50
MONEY_PATTERN = r"^[0-9]+\.[0-9]{2}$"


# --- money ----------------------------------------------------------------------------------------

def format_money(cents: int) -> str:
    """``1999`` -> ``"19.99"``."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _problem(message: str) -> PydanticCustomError:
    """A failed rule whose message is the envelope's own; ``problems`` passes it through as it is."""
    return PydanticCustomError("shop", message)


def parse_money(value: Any, limit: int | None = MAX_CENTS) -> int:
    """Cents from a decimal string or number such as ``"19.99"``, below ``limit`` cents; says what is
    wrong otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _problem('must be a decimal string like "19.99" or a number')
    try:
        # str() of a float is its shortest round-trip form, so 19.99 stays 19.99
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise _problem('must be a decimal string like "19.99"') from None
    if not amount.is_finite():
        raise _problem("must be a finite amount")
    if amount < 0:
        raise _problem("must not be negative")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise _problem("must have at most two decimal places")
    cents = int(amount * 100)
    if limit is not None and cents >= limit:
        raise _problem("is too large")
    return cents


_WIRE_MONEY = {"type": "string", "pattern": MONEY_PATTERN, "example": "19.99",
               "description": "an amount: a decimal string with two places"}

#: an amount as a request may send it (``"19.99"`` or ``19.99``), in cents inside
MoneyIn = Annotated[int, PlainValidator(parse_money), PlainSerializer(format_money, return_type=str),
                    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,9}(\.[0-9]{1,2})?$", "example": "19.99",
                                    "description": "a decimal string such as \"19.99\"; a JSON number is read the "
                                                   "same way (19.99), which this document leaves out: a binary "
                                                   "float cannot say \"two places\" exactly"})]


def _cents(value: Any) -> int:
    """The wire's ``"19.99"`` as cents; nothing else is an amount in an answer (a bare ``20`` is not)."""
    if not isinstance(value, str) or not re.match(MONEY_PATTERN, value):
        raise _problem('must be a decimal string with two places like "19.99"')
    return parse_money(value, limit=None)


#: an amount as the services answer it (``"19.99"``), in cents inside
Cents = Annotated[int, PlainValidator(_cents), PlainSerializer(format_money, return_type=str),
                  WithJsonSchema(_WIRE_MONEY)]


# --- the other rules --------------------------------------------------------------------------------

def _integer(value: Any) -> Any:
    """An int as JSON has it: ``2`` or ``2.0`` (the same number in JSON), never ``true`` or ``"2"``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _problem("must be an integer")
    return value


def integer(minimum: int, maximum: int):
    """A whole number from ``minimum`` to ``maximum`` (JSON Schema's ``minimum`` and ``maximum``)."""
    return Annotated[int, Field(strict=True, ge=minimum, le=maximum), BeforeValidator(_integer)]


Id = integer(1, MAX_INT)
Quantity = integer(1, MAX_QUANTITY)
Stock = integer(0, MAX_INT)
# a line of an answer: products adds up the lines of one product, so 50 lines of a million each may
# come back as one line of 50 million
Units = integer(1, MAX_INT)

# what Python's str.strip() takes away; the schema's patterns name the same characters, so a string
# the document calls valid is one the service accepts
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def _ranges(chars: str) -> str:
    """``"\\t\\n\\x0b"`` -> ``\\u0009-\\u000b``: a regex class's body, as short as it goes."""
    runs: list[list[int]] = []
    for code in sorted(map(ord, chars)):
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in runs)


_NOT_SPACE = f"[^{_ranges(WHITESPACE)}]"
_NOT_SPACE_OR_AT = _NOT_SPACE[:-1] + "@]"
EMAIL_PATTERN = f"^{_NOT_SPACE_OR_AT}+@{_NOT_SPACE_OR_AT}+\\.{_NOT_SPACE_OR_AT}+$"


def _stripped(at_most: int, inner: str = _NOT_SPACE) -> str:
    """A pattern for: whitespace, then 1 to ``at_most`` characters that start and end with ``inner``,
    then whitespace; what ``strip()`` leaves is then the part in between, and no longer than that."""
    space = f"[{_ranges(WHITESPACE)}]*"
    return f"^{space}{inner}(?:[\\s\\S]{{0,{at_most - 2}}}{inner})?{space}$"


def _stripped_text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise _problem("must be a string")
    value = value.strip()
    if not value:
        raise _problem("must not be empty")
    if len(value) > max_length:
        raise _problem(f"must be at most {max_length} characters")
    return value


def text(max_length: int):
    """A string, stripped, not empty, at most ``max_length`` characters after stripping."""
    return Annotated[str, PlainValidator(lambda value: _stripped_text(value, max_length)), WithJsonSchema(
        {"type": "string", "pattern": _stripped(max_length), "description": f"1 to {max_length} characters, "
         "whitespace around them stripped"})]


Text = text(200)


def _email(value: Any) -> str:
    """Like ``Text`` (stripped, not empty), then an address, lowercased. Its 254 characters are counted
    before stripping: no JSON Schema can count them after, and the document has to say the same."""
    if isinstance(value, str) and len(value) > 254:
        raise _problem("must be at most 254 characters")
    value = _stripped_text(value, 254)
    if not re.match(EMAIL_PATTERN, value):
        raise _problem("must be an email address like name@example.com")
    return value.lower()


_SPACE = f"[{_ranges(WHITESPACE)}]*"
Email = Annotated[str, PlainValidator(_email), WithJsonSchema(
    {"type": "string", "maxLength": 254, "pattern": f"^{_SPACE}{EMAIL_PATTERN[1:-1]}{_SPACE}$",
     "example": "ada@example.com", "description": "an email address, whitespace around it stripped"})]


def _object(value: Any) -> Any:
    if not isinstance(value, dict) and not isinstance(value, BaseModel):
        raise _problem("must be an object {product_id, quantity}")
    return value


def _item_list(value: Any) -> Any:
    if not isinstance(value, list):
        raise _problem("must be a list of {product_id, quantity}")
    if not value:
        raise _problem("must contain at least one item")
    if len(value) > MAX_ITEMS:
        raise _problem(f"must contain at most {MAX_ITEMS} items")
    return value


_MODELS: dict[str, type["Model"]] = {}
_SCHEMAS: dict[tuple, dict[str, Any]] = {}


class Model(BaseModel):
    """Fields by their names in Python, by their wire names (``alias``) in JSON: only those are read
    (``{"price_cents": …}`` is not a price), and written."""

    model_config = ConfigDict(frozen=True, validate_by_name=False, validate_by_alias=True,
                              serialize_by_alias=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # how a ValidationError, which names its model, finds the model's refusal: so one name, one model
        if _MODELS.setdefault(cls.__name__, cls) is not cls:
            raise TypeError(f"two contract models are named {cls.__name__}")

    @classmethod
    def refuse(cls, fields: dict[str, str]) -> APIError:
        """The refusal of a request whose part this model is: 400 naming every bad field."""
        return refusal(fields)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """pydantic's, made once per model and arguments: flask-openapi3 asks for a query's or a header's
        schema on every request, and making it was 45% of a list's time (cProfile)."""
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in _SCHEMAS:
            _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(_SCHEMAS[key])

    def wire(self) -> dict[str, Any]:
        """The JSON object this model is on the wire."""
        return self.model_dump(mode="json", by_alias=True)


# --- requests ---------------------------------------------------------------------------------------

class OrderLine(Model):
    """One item of an order as every service handles it: a product and how many of it."""

    product_id: Id
    quantity: Quantity


OrderLines = Annotated[list[Annotated[OrderLine, BeforeValidator(_object)]], BeforeValidator(_item_list),
                       Field(min_length=1, max_length=MAX_ITEMS)]


class NewUser(Model):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Ada Lovelace", "email": "ada@example.com"}})
    name: Text
    email: Email


class NewProduct(Model):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "Tea", "price": "4.50", "stock": 10}})
    name: Text
    price_cents: MoneyIn = Field(alias="price")
    stock: Stock | None = Field(default=None, description="units in stock; none is 0")


class NewOrder(Model):
    model_config = ConfigDict(json_schema_extra={"example": {"user_id": 1,
                                                             "items": [{"product_id": 1, "quantity": 2}]}})
    user_id: Id
    lines: OrderLines = Field(alias="items")


class NewReservation(Model):
    lines: OrderLines = Field(alias="items")
    sell: bool = Field(False, description="true: sell the stock at once, the reservation confirmed as it is made "
                                          "(orders, which saved its order first); false: hold it until confirmed")


# --- answers ------------------------------------------------------------------------------------------

class User(Model):
    id: Id
    name: str
    email: str


LOW_STOCK = 5  # at most this many left: "low_stock"


class Product(Model):
    id: Id
    name: str
    price_cents: Cents = Field(alias="price")
    stock: Stock
    availability: Literal["in_stock", "low_stock", "sold_out"] | None = Field(
        None, description=f"products v2 and later (v1 leaves it out): sold_out at 0, low_stock at {LOW_STOCK} "
                          "or fewer, else in_stock")

    def wire(self) -> dict[str, Any]:
        answer = super().wire()
        if self.availability is None:  # v1's answer, as v1 gives it
            del answer["availability"]
        return answer


class PricedLine(Model):
    """An order line with the unit price products charged when it reserved the stock."""

    product_id: Id
    quantity: Units
    unit_price_cents: Cents = Field(alias="unit_price")


class Order(Model):
    id: Id
    user_id: Id
    lines: tuple[PricedLine, ...] = Field(alias="items")
    total_cents: Cents = Field(alias="total")
    status: Literal["confirmed"]
    created_at: str = Field(description="when it was placed: ISO 8601 in UTC",
                        json_schema_extra={"example": "2026-11-28T15:00:00.000000Z"})


class Reservation(Model):
    """Stock products holds for one order, each line priced."""

    id: str
    status: Literal["reserved", "confirmed", "released", "expired"]
    lines: tuple[PricedLine, ...] = Field(alias="items")
    total_cents: Cents = Field(alias="total")


T = TypeVar("T")


class Page(Model, Generic[T]):
    """One page of a list, and how many there are in all."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


class UserPage(Page[User]):
    pass


class ProductPage(Page[Product]):
    pass


class OrderPage(Page[Order]):
    pass


class ErrorBody(BaseModel):
    code: str = Field(json_schema_extra={"example": "validation_failed"})
    message: str = Field(json_schema_extra={"example": "invalid fields: email"})
    fields: dict[str, str] = Field(description="each offending field (or header, or query parameter) "
                                   "and what is wrong with it", json_schema_extra={"example": {"email": "is required"}})


class Error(BaseModel):
    """Every refusal and failure: a stable code, a sentence, and the fields at fault."""

    error: ErrorBody


# --- query strings, headers and paths --------------------------------------------------------------------

def whole_number(minimum: int, maximum: int, out_of_range: str | None = None, empty_is_default: bool = False):
    """A query parameter: digits only, within bounds; the messages are the envelope's own. With
    ``empty_is_default``, ``?limit=`` is as if it were not there (its document says
    ``allowEmptyValue``: see ``EMPTY_IS_DEFAULT``)."""
    bounds = out_of_range or f"must be between {minimum} and {maximum}"

    def check(value: Any) -> Any:
        if isinstance(value, str):
            if value == "" and empty_is_default:
                raise PydanticUseDefault()
            if not (value.isascii() and value.isdigit()):  # "²".isdigit() is true
                raise _problem("must be a whole number")
            value = int(value)
        if isinstance(value, int) and not minimum <= value <= maximum:
            raise _problem(bounds)
        return value
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(check)]


# the page parameters an empty value leaves at their default, as they always did
EMPTY_IS_DEFAULT = ("limit", "offset")
Limit = whole_number(1, 200, empty_is_default=True)
Offset = whole_number(0, MAX_INT, empty_is_default=True)
UserFilter = whole_number(0, MAX_INT, "must be a whole number")


class PageQuery(Model):
    """``?limit=&offset=&order=``: a page of a list, by id (``order=desc`` for newest first)."""

    limit: Limit = 50
    offset: Offset = 0
    order: Literal["asc", "desc"] = "asc"

    @classmethod
    def refuse(cls, fields: dict[str, str]) -> APIError:
        first = next((name for name in cls.model_fields if name in fields), next(iter(fields)))
        return APIError(400, "invalid_query", f"{first} {fields[first]}", fields)


class OrderQuery(PageQuery):
    user_id: UserFilter = Field(default=None, description="only this user's orders")


IDEMPOTENCY_HEADER = "Idempotency-Key"


class IdempotencyHeader(Model):
    key: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$")] = Field(
        default=None, alias=IDEMPOTENCY_HEADER,
        description="retrying a POST with the same key answers with the first order (Idempotent-Replayed: true)")

    @classmethod
    def refuse(cls, fields: dict[str, str]) -> APIError:
        problem = "must be 1 to 255 printable characters"
        return APIError(400, "invalid_idempotency_key", f"{IDEMPOTENCY_HEADER} {problem}",
                        {IDEMPOTENCY_HEADER: problem})


class UserPath(Model):
    user_id: Id


class ProductPath(Model):
    product_id: Id


class OrderPath(Model):
    order_id: Id


class ReservationPath(Model):
    reservation_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", max_length=64,
                                         description="chosen by the caller, so every call is idempotent")]

    @classmethod
    def refuse(cls, fields: dict[str, str]) -> APIError:
        return APIError(400, "invalid_reservation_id", "a reservation id is 1 to 64 letters, digits, '-' or '_'",
                        {"id": "must match [A-Za-z0-9_-]{1,64}"})


# --- errors ------------------------------------------------------------------------------------------------

def _label(loc: tuple) -> str:
    """``("items", 0, "quantity")`` -> ``items[0].quantity``; the wire's names, as the client sent them."""
    label = ""
    for part in loc:
        label += f"[{part}]" if isinstance(part, int) else (f".{part}" if label else str(part))
    return label


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "missing" or (error.get("input", "") is None and isinstance(error["loc"][-1], str)):
        return "is required"
    if kind == "shop":
        return error["msg"]
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "greater_than_equal":
        return "must be positive" if ctx["ge"] == 1 else f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "literal_error":
        return f"must be {ctx['expected'].replace(chr(39), '')}"
    return error["msg"][0].lower() + error["msg"][1:]  # pydantic's own words, for a rule not named above


def problems(err: ValidationError) -> dict[str, str]:
    """Each offending field and what is wrong with it, one message per field (the first found)."""
    found: dict[str, str] = {}
    for error in err.errors(include_url=False):
        found.setdefault(_label(error["loc"]), _message(error))
    return found


def refusal(fields: dict[str, str]) -> APIError:
    """The 400 naming every field that failed."""
    return APIError(400, "validation_failed", f"invalid fields: {', '.join(sorted(fields))}", fields)


def refusal_for(err: ValidationError) -> APIError:
    """The refusal for a request part that failed its model (a ValidationError names its model)."""
    model = _MODELS.get(err.title)
    fields = problems(err)
    return model.refuse(fields) if model else refusal(fields)


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or the 400 naming every bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise refusal(problems(err)) from None


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
