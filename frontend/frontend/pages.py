"""The shop's pages: users, products and orders, each list paginated, with details and create forms.

Every page asks the services through the sidecar's upstreams. When one is unavailable its part of
the page says so and the rest still renders; a form shows the service's validation errors next to
the field they name.
"""

import re
import uuid
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from shopcommon import APIError

bp = Blueprint("pages", __name__)

PAGE_SIZE = 20


@dataclass
class Answer:
    """What a service said: ``data`` on success, else ``status`` + ``error`` (the JSON envelope's)."""

    status: int
    data: dict | None = None
    error: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.data is not None

    @property
    def message(self) -> str:
        return self.error.get("message", "")

    @property
    def fields(self) -> dict:
        return self.error.get("fields", {})


def call(service: str, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Answer:
    """Ask ``service``; never raises for what the service or the mesh answered."""
    upstream = current_app.extensions[f"upstream.{service}"]
    try:
        response = upstream.call(method, path, json=body, headers=headers)
    except APIError as err:
        return Answer(err.status, error={"code": err.code, "message": err.message, "fields": err.fields})
    payload = response.json()
    if response.status_code < 400:
        return Answer(response.status_code, data=payload)
    return Answer(response.status_code, error=payload.get("error", {}))


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def listing(service: str, path: str, extra: str = "") -> tuple[Answer, dict]:
    """One page of a list, newest first, and what the pager needs."""
    page = page_number()
    answer = call(service, "GET", f"{path}?limit={PAGE_SIZE}&offset={(page - 1) * PAGE_SIZE}&order=desc{extra}")
    total = answer.data["total"] if answer.ok else 0
    pages = max(1, -(-total // PAGE_SIZE))
    return answer, {"page": page, "pages": pages, "total": total}


def names(service: str, path: str) -> dict[int, str]:
    """id → name for a select or a label; empty when the service is unavailable."""
    answer = call(service, "GET", f"{path}?limit=200&order=desc")
    return {item["id"]: item["name"] for item in answer.data["items"]} if answer.ok else {}


# --- overview -------------------------------------------------------------------------------------

@bp.get("/")
def index():
    sections = {name: call(service, "GET", f"{path}?limit=5&order=desc")
                for name, service, path in (("users", "users", "/api/users"),
                                            ("products", "products", "/products"),
                                            ("orders", "orders", "/api/orders"))}
    return render_template("index.html", **sections)


# --- users ----------------------------------------------------------------------------------------

@bp.route("/users", methods=["GET", "POST"])
def users():
    form, errors, problem, status = {}, {}, None, 200
    if request.method == "POST":
        form = {"name": request.form.get("name", ""), "email": request.form.get("email", "")}
        answer = call("users", "POST", "/api/users", form)
        if answer.ok:
            return redirect(url_for("pages.user", user_id=answer.data["id"], created=1), code=303)
        errors, problem, status = answer.fields, answer.message, answer.status
    answer, paging = listing("users", "/api/users")
    return render_template("users.html", users=answer, paging=paging, form=form, errors=errors,
                           problem=problem), status


@bp.get("/users/<id:user_id>")
def user(user_id: int):
    answer = call("users", "GET", f"/api/users/{user_id}")
    if answer.status == 404:
        abort(404)
    orders = call("orders", "GET", f"/api/orders?user_id={user_id}&limit=50&order=desc")
    return render_template("user.html", user=answer, orders=orders, created="created" in request.args)


# --- products -------------------------------------------------------------------------------------

@bp.route("/products", methods=["GET", "POST"])
def products():
    form, errors, problem, status = {}, {}, None, 200
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in ("name", "price", "stock")}
        body = {"name": form["name"], "price": form["price"].strip(), "stock": _number(form["stock"])}
        answer = call("products", "POST", "/products", body)
        if answer.ok:
            return redirect(url_for("pages.product", product_id=answer.data["id"], created=1), code=303)
        errors, problem, status = answer.fields, answer.message, answer.status
    answer, paging = listing("products", "/products")
    return render_template("products.html", products=answer, paging=paging, form=form, errors=errors,
                           problem=problem), status


@bp.get("/products/<id:product_id>")
def product(product_id: int):
    answer = call("products", "GET", f"/products/{product_id}")
    if answer.status == 404:
        abort(404)
    return render_template("product.html", product=answer, created="created" in request.args)


# --- orders ---------------------------------------------------------------------------------------

@bp.get("/orders")
def orders():
    answer, paging = listing("orders", "/api/orders")
    return render_template("orders.html", orders=answer, paging=paging,
                           user_names=names("users", "/api/users"))


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
        headers = {"Idempotency-Key": form["request_id"]} if form["request_id"] else None
        answer = call("orders", "POST", "/api/orders", body, headers)
        if answer.ok:
            return redirect(url_for("pages.order", order_id=answer.data["id"], created=1), code=303)
        status, problem = answer.status, answer.message
        for key, text in answer.fields.items():
            match = re.fullmatch(r"items\[(\d+)\]\.?(\w*)", key)
            if match and int(match.group(1)) < len(sent):
                row_errors[sent[int(match.group(1))]] = text
            elif key == "items" and not sent:
                errors["items"] = "choose at least one product"
            else:
                errors[key] = text
        if answer.error.get("code") == "unknown_user":
            errors["user_id"] = "this user does not exist (any more)"
        if answer.status != 503:
            form["request_id"] = uuid.uuid4().hex  # a corrected order is a new request
        while len(rows) < ITEM_ROWS:
            rows.append({"product_id": "", "quantity": "1"})
    users = call("users", "GET", "/api/users?limit=200&order=desc")
    products = call("products", "GET", "/products?limit=200&order=desc")
    return render_template("order_new.html", form=form, rows=rows, errors=errors, row_errors=row_errors,
                           problem=problem, code=None if status < 400 else status,
                           users=users, products=products), status


def _number(text: str):
    """Form text as an int when it is one; anything else goes to the service as it is, to be named."""
    text = (text or "").strip()
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else (text or None)


@bp.get("/orders/<id:order_id>")
def order(order_id: int):
    answer = call("orders", "GET", f"/api/orders/{order_id}")
    if answer.status == 404:
        abort(404)
    product_names = names("products", "/products") if answer.ok else {}
    user = call("users", "GET", f"/api/users/{answer.data['user_id']}") if answer.ok else None
    return render_template("order.html", order=answer, product_names=product_names, user=user,
                           created="created" in request.args)
