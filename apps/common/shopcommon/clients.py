"""Typed clients for the calls between services: one per service, on its sidecar ``Upstream``.

A client owns its service's paths, which answers mean what and the error codes that cross the
boundary, so a caller never builds a path or reads an error envelope. It sends and reads the
contract's models (``shopcommon.contract``), the ones the service itself validates and documents
with: money is integer cents in every value here, the wire's decimal strings parsed by the models.

Errors are ``APIError``s: a refusal (4xx) as the service said it, code and fields included, so a
caller can pass it on or show it next to a form's fields; a failure (5xx, no answer, the mesh's
own answer) as a 503 naming the service.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import urlencode

from flask import current_app
from pydantic import BaseModel, ValidationError

from shopcommon.contract import (NewOrder, NewProduct, NewReservation, NewUser, Order, OrderLine, PricedLine,
                                 Product, Reservation, User)
from shopcommon.errors import (INSUFFICIENT_STOCK, RESERVATION_CONFIRMED, RESERVATION_EXPIRED, RESERVATION_RELEASED,
                               UNKNOWN_PRODUCT, UPSTREAM_DENIED, UPSTREAM_UNAVAILABLE, APIError)
from shopcommon.upstream import Answer, Upstream, UpstreamUnavailable

__all__ = ["Order", "OrdersClient", "Page", "PricedLine", "Product", "ProductsClient", "Reservation",
           "ReservationLost", "ReservationSold", "User", "UsersClient"]

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, and how many there are in all."""

    items: list[T]
    total: int


def _lines(lines: Sequence[OrderLine]) -> list[OrderLine]:
    # unchecked: what the caller asks for is the service's to refuse, naming the field
    return [OrderLine.model_construct(product_id=line.product_id, quantity=line.quantity) for line in lines]


class _Client(Generic[T]):
    """Reads one kind of resource from one service: ``get``, ``page``, and a create for subclasses."""

    service: ClassVar[str]
    path: ClassVar[str]
    model: ClassVar[type[BaseModel]]

    def __init__(self, upstream: Upstream):
        self.upstream = upstream

    @classmethod
    def current(cls) -> Self:
        """A client on the upstream the current app set up at start for this service."""
        return cls(current_app.extensions[f"upstream.{cls.service}"])

    def get(self, resource_id: int) -> T | None:
        """The resource, or None when the service has none with that id."""
        response = self.upstream.call("GET", f"{self.path}/{resource_id}")
        if response.status_code == 404:
            return None
        return self.parse(self._read(response))

    def parse(self, data: Any, model: type[BaseModel] | None = None) -> Any:
        """An answer as its contract model; one that does not fit it is the service failing."""
        try:
            return (model or self.model).model_validate(data)
        except ValidationError as err:
            raise UpstreamUnavailable(self.upstream.name, f"{self.upstream.name} answered outside its contract: "
                                      f"{err.errors(include_url=False)[0]['msg']}") from None

    def page(self, limit: int = 50, offset: int = 0, newest_first: bool = False, **filters: int) -> Page[T]:
        """One page of the list, ordered by id (oldest first unless ``newest_first``)."""
        query = {"limit": limit, "offset": offset, "order": "desc" if newest_first else "asc", **filters}
        data = self._read(self.upstream.call("GET", f"{self.path}?{urlencode(query)}"))
        return Page([self.parse(item) for item in data["items"]], data["total"])

    def _read(self, response: Answer) -> dict[str, Any]:
        """A read's 200 JSON; a read this client built and the service refused is not the caller's
        to fix, so any refusal is the service being unavailable to it."""
        try:
            return self._expect(response, 200)
        except UpstreamUnavailable:
            raise
        except APIError as err:
            raise UpstreamUnavailable(self.upstream.name, f"{self.upstream.name} refused a read "
                                      f"(HTTP {err.status}): {err.message}", err.code) from None

    def _create(self, body: BaseModel, headers: dict[str, str] | None = None) -> T:
        response = self.upstream.call("POST", self.path, json=body.wire(), headers=headers)
        return self.parse(self._expect(response, 201))

    def _expect(self, response: Answer, *statuses: int) -> dict[str, Any]:
        """The answer's JSON when its status is one of ``statuses``; else the service's error, raised."""
        if response.status_code not in statuses:
            raise self._error(response)
        return response.json()

    def _error(self, response: Answer) -> APIError:
        error = response.json().get("error", {})
        status, code, message = response.status_code, error.get("code", "http_error"), error.get("message", "")
        # a failure of the service itself becomes a 503 naming it; one it reports about its own
        # upstream passes through as it is, naming the part that is missing
        if status >= 500 and code not in (UPSTREAM_UNAVAILABLE, UPSTREAM_DENIED):
            name = self.upstream.name
            return UpstreamUnavailable(name, f"{name} failed (HTTP {status}): {message}")
        return APIError(status, code, message, error.get("fields", {}))


class UsersClient(_Client[User]):
    service = "users"
    path = "/api/users"
    model = User

    def exists(self, user_id: int) -> bool:
        return self.get(user_id) is not None

    def create(self, name: str, email: str) -> User:
        """A new user; 400 names each bad field, 409 ``duplicate_email``."""
        return self._create(NewUser.model_construct(name=name, email=email))


class ProductsClient(_Client[Product]):
    service = "products"
    path = "/products"
    model = Product

    def create(self, name: str, price_cents: int, stock: int) -> Product:
        return self._create(NewProduct.model_construct(name=name, price_cents=price_cents, stock=stock))

    def reserve(self, reservation_id: str, lines: Sequence[OrderLine], sell: bool = False) -> Reservation:
        """Hold every line's stock, all or nothing, at today's prices; with ``sell``, sell it at once
        (the reservation comes back confirmed). Repeating it takes no more.

        Products' refusals pass on as they are: 409 ``insufficient_stock`` and 422 ``unknown_product``,
        each bad line named in the fields. After those, and after the mesh's denial (503
        ``upstream_denied``), products certainly holds nothing. After an ``UpstreamUnavailable`` it is
        unknown whether it does: the caller releases the reservation to be sure.
        """
        body = NewReservation.model_construct(lines=_lines(lines), sell=sell).wire()
        response = self.upstream.call("PUT", f"/products/reservations/{reservation_id}", json=body)
        if response.status_code in (200, 201):
            return self.parse(response.json(), Reservation)
        error = self._error(response)
        if error.code in (INSUFFICIENT_STOCK, UNKNOWN_PRODUCT) or isinstance(error, UpstreamUnavailable):
            raise error
        # any other refusal (a body products cannot read, an id already released) is not the buyer's
        # to fix, and this client cannot vouch that nothing is held
        raise UpstreamUnavailable(self.upstream.name, f"products refused the reservation (HTTP {error.status})",
                                  error.message)

    def reservation(self, reservation_id: str) -> Reservation | None:
        """The reservation as products holds it (held or sold); None when it holds nothing: never
        made, released or expired."""
        response = self.upstream.call("GET", f"/products/reservations/{reservation_id}")
        if response.status_code in (404, 410):
            return None
        return self.parse(self._read(response), Reservation)

    def release(self, reservation_id: str) -> None:
        """Give the reserved stock back; harmless when repeated or when nothing was reserved (a
        reservation made after it then fails). ``ReservationSold`` when it is confirmed: its stock
        stays sold."""
        response = self.upstream.call("DELETE", f"/products/reservations/{reservation_id}")
        if response.status_code == 200:
            return
        error = self._error(response)
        if error.code == RESERVATION_CONFIRMED:
            raise ReservationSold(error.status, error.code, error.message, error.fields)
        raise error

    def confirm(self, reservation_id: str) -> None:
        """Sell the held stock (its order is saved); harmless when repeated.

        Raises ``ReservationLost`` when the reservation holds nothing any more (it expired, or was
        released): its stock is back in products, so the order cannot stand. ``UpstreamUnavailable``
        leaves it unknown whether products confirmed: ask again later.
        """
        response = self.upstream.call("PUT", f"/products/reservations/{reservation_id}/confirmation")
        if response.status_code == 200:
            return
        error = self._error(response)
        if error.code in (RESERVATION_EXPIRED, RESERVATION_RELEASED):
            raise ReservationLost(error.status, error.code, error.message, error.fields)
        if isinstance(error, UpstreamUnavailable):
            raise error
        raise UpstreamUnavailable(self.upstream.name, f"products refused the confirmation (HTTP {error.status})",
                                  error.message)


class ReservationLost(APIError):
    """The reservation no longer holds its stock (expired or released): its order cannot be placed."""


class ReservationSold(APIError):
    """The reservation was confirmed: its stock is sold, and only its order can stand for it."""


class OrdersClient(_Client[Order]):
    service = "orders"
    path = "/api/orders"
    model = Order

    def page(self, limit: int = 50, offset: int = 0, newest_first: bool = False,
             user_id: int | None = None) -> Page[Order]:
        filters = {} if user_id is None else {"user_id": user_id}
        return super().page(limit, offset, newest_first, **filters)

    def create(self, user_id: int, lines: Sequence[OrderLine], idempotency_key: str | None = None) -> Order:
        """Place an order; a retry with the same ``idempotency_key`` answers with the first order.

        Refusals: 400 (fields named as ``items[i].quantity`` …), 422 ``unknown_user`` /
        ``unknown_product``, 409 ``insufficient_stock`` / ``request_in_progress``.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._create(NewOrder.model_construct(user_id=user_id, lines=_lines(lines)), headers)
