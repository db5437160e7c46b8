"""The shop's pages: users, products and orders, each list paginated, with details and create forms.

Every page asks the services through their typed clients, on the sidecar's upstreams. When one is
unavailable its part of the page says so and the rest still renders; a form shows the errors next
to the field they name, whether our own check or the service found them.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import Blueprint, abort, redirect, render_template, request, url_for

from shopcommon import APIError, tracing
from shopcommon.clients import OrdersClient, ProductsClient, UsersClient
from shopcommon.errors import UNKNOWN_USER
from shopcommon.contract import NewOrder, NewProduct, format_money, parse

bp = Blueprint("pages", __name__)
bp.add_app_template_filter(format_money, "money")

PAGE_SIZE = 20
T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """One part of a page: what its service answered, or the error that blanks only this part."""

    value: T | None = None
    error: APIError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        return self.error.message if self.error else ""


def part(fetch: Callable[..., T], *args: Any, **kwargs: Any) -> Part[T]:
    """``fetch(*args, **kwargs)`` for one part of a page; never raises for what a service answered."""
    try:
        return Part(fetch(*args, **kwargs))
    except APIError as err:
        return Part(error=err)


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def listing(client) -> tuple[Part, dict]:
    """One page of a list, newest first, and what the pager needs."""
    page = page_number()
    answer = part(client.page, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, newest_first=True)
    total = answer.value.total if answer.ok else 0
    pages = max(1, -(-total // PAGE_SIZE))
    return answer, {"page": page, "pages": pages, "total": total}


def list_page(resource: str, client, form: dict, refused: APIError | None):
    """``resource``'s list page and its create form; a refused form is shown again, each error by its field."""
    answer, paging = listing(client)
    errors, problem, status = (refused.fields, refused.message, refused.status) if refused else ({}, None, 200)
    return render_template(f"{resource}.html", **{resource: answer}, paging=paging, form=form, errors=errors,
                           problem=problem), status


def names(client) -> dict[int, str]:
    """id → name for a select or a label; empty when the service is unavailable."""
    answer = part(client.page, limit=200, newest_first=True)
    return {item.id: item.name for item in answer.value.items} if answer.ok else {}


# --- overview -------------------------------------------------------------------------------------

@bp.get("/")
def index():
    clients = {"users": UsersClient, "products": ProductsClient, "orders": OrdersClient}
    sections = {name: part(client.current().page, limit=5, newest_first=True) for name, client in clients.items()}
    return render_template("index.html", **sections)


# --- users ----------------------------------------------------------------------------------------

@bp.route("/users", methods=["GET", "POST"])
def users():
    form, created = {}, Part()
    if request.method == "POST":
        form = {"name": request.form.get("name", ""), "email": request.form.get("email", "")}
        created = part(UsersClient.current().create, form["name"], form["email"])
        if created.ok:
            return redirect(url_for("pages.user", user_id=created.value.id, created=1), code=303)
    return list_page("users", UsersClient.current(), form, created.error)


@bp.get("/users/<id:user_id>")
def user(user_id: int):
    answer = part(UsersClient.current().get, user_id)
    if answer.ok and answer.value is None:
        abort(404)
    orders = part(OrdersClient.current().page, limit=50, newest_first=True, user_id=user_id)
    return render_template("user.html", user=answer, orders=orders, created="created" in request.args)


# --- products -------------------------------------------------------------------------------------

@bp.route("/products", methods=["GET", "POST"])
def products():
    form, created = {}, Part()
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("name", "price", "stock")}
        created = part(_create_product, form)
        if created.ok:
            return redirect(url_for("pages.product", product_id=created.value.id, created=1), code=303)
    return list_page("products", ProductsClient.current(), form, created.error)


def _create_product(form: dict[str, str]):
    """The product the form describes, checked here first as the service would check it."""
    body = {"name": form["name"], "price": form["price"].strip(), "stock": _number(form["stock"])}
    new = parse(NewProduct, body)
    return ProductsClient.current().create(new.name, new.price_cents, new.stock or 0)


@bp.get("/products/<id:product_id>")
def product(product_id: int):
    answer = part(ProductsClient.current().get, product_id)
    if answer.ok and answer.value is None:
        abort(404)
    return render_template("product.html", product=answer, created="created" in request.args)


# --- orders ---------------------------------------------------------------------------------------

@bp.get("/orders")
def orders():
    answer, paging = listing(OrdersClient.current())
    return render_template("orders.html", orders=answer, paging=paging, user_names=names(UsersClient.current()))


ITEM_ROWS = 3  # rows the form shows without JavaScript; "Add another product" adds more


@bp.route("/orders/new", methods=["GET", "POST"])
def new_order():
    rows = [{"product_id": "", "quantity": "1"} for _ in range(ITEM_ROWS)]
    form = {"user_id": request.args.get("user_id", ""), "request_id": uuid.uuid4().hex}
    errors, row_errors, problem, status = {}, {}, None, 200
    if request.method == "POST":
        form = {"user_id": request.form.get("user_id", ""), "request_id": request.form.get("request_id", "")}
        rows = [{"product_id": p, "quantity": q} for p, q in
                zip(request.form.getlist("product_id"), request.form.getlist("quantity"))]
        # rows left empty are not items; remember where each sent item sits in the form
        sent = [i for i, row in enumerate(rows) if row["product_id"]]
        body = {"user_id": _number(form["user_id"]),
                "items": [{"product_id": _number(rows[i]["product_id"]), "quantity": _number(rows[i]["quantity"])}
                          for i in sent]}
        try:
            new = parse(NewOrder, body)
            placed = OrdersClient.current().create(new.user_id, new.lines, idempotency_key=form["request_id"] or None)
        except APIError as err:
            status, problem = err.status, err.message
            errors, row_errors = _order_errors(err, sent)
            if err.status != 503:
                form["request_id"] = uuid.uuid4().hex  # a corrected order is a new request
        else:
            return redirect(url_for("pages.order", order_id=placed.id, created=1), code=303)
        while len(rows) < ITEM_ROWS:
            rows.append({"product_id": "", "quantity": "1"})
    users = part(UsersClient.current().page, limit=200, newest_first=True)
    products = part(ProductsClient.current().page, limit=200, newest_first=True)
    return render_template("order_new.html", form=form, rows=rows, errors=errors, row_errors=row_errors,
                           problem=problem, code=None if status < 400 else status,
                           users=users, products=products), status


def _order_errors(err: APIError, sent: list[int]) -> tuple[dict[str, str], dict[int, str]]:
    """The error's fields for the form: ``items[i].…`` on the row item ``i`` came from, the rest by name."""
    errors, row_errors = {}, {}
    for key, text in err.fields.items():
        match = re.fullmatch(r"items\[(\d+)\]\.?(\w*)", key)
        if match and int(match.group(1)) < len(sent):
            row_errors[sent[int(match.group(1))]] = text
        elif key == "items" and not sent:
            errors["items"] = "choose at least one product"
        else:
            errors[key] = text
    if err.code == UNKNOWN_USER:
        errors["user_id"] = "this user does not exist (any more)"
    return errors, row_errors


def _number(text: str):
    """Form text as an int when it is one; anything else is left for the check to name."""
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else (text or None)


@bp.get("/orders/<id:order_id>")
def order(order_id: int):
    answer = part(OrdersClient.current().get, order_id)
    if answer.ok and answer.value is None:
        abort(404)
    product_names = names(ProductsClient.current()) if answer.ok else {}
    user = part(UsersClient.current().get, answer.value.user_id) if answer.ok else None
    return render_template("order.html", order=answer, product_names=product_names, user=user,
                           created="created" in request.args)


@bp.get("/orders/<id:order_id>/trace")
def order_trace(order_id: int):
    """The waterfall of the request that placed the order: frontend, orders, users, products and
    their sidecars, one trace (``frontend.traces``, from the trace store)."""
    from frontend import traces

    trace, problem = None, None
    try:
        trace_id = traces.order_trace_id(order_id)
        trace = traces.waterfall(trace_id) if trace_id else None
        if trace is None:
            ratio = tracing.sample_ratio()
            sampled = (f"only {ratio:.0%} of requests are traced (TRACE_SAMPLE_RATIO), and every failed or slow "
                       f"one, so this order was probably not sampled; " if ratio is not None and ratio < 1 else "")
            problem = (f"The trace store has no trace of order {order_id}: {sampled}the store keeps the last "
                       f"traces in memory, and orders placed before it started have none.")
    except traces.Unavailable as exc:
        problem = f"{exc}."
    return render_template("order_trace.html", order_id=order_id, trace=trace, problem=problem)
