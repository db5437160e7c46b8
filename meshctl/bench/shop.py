"""What the bench asks of the shop around its rows: fresh users and products, and the stock check."""

import time
import uuid

import requests

TIMEOUT = 10
PAGE = 200  # the orders service's largest page


class SetupError(Exception):
    """The shop refused or did not answer a call the bench needs; the message says which."""


class Shop:
    def __init__(self, frontend: str, products: str, orders: str):
        self.frontend, self.products, self.orders = frontend, products, orders
        self.http = requests.Session()
        self.http.trust_env = False  # a proxy from the environment must not sit between us and 127.0.0.1

    def _call(self, method: str, url: str, expected: int, **kwargs) -> dict:
        try:
            response = self.http.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise SetupError(f"{method} {url}: no answer ({exc})") from None
        if response.status_code != expected:
            raise SetupError(f"{method} {url}: {response.status_code} {response.text[:200]}")
        return response.json()

    def new_user(self) -> int:
        tag = uuid.uuid4().hex[:10]
        return self._call("POST", f"{self.frontend}/api/users", 201,
                          json={"name": "Bench", "email": f"bench-{tag}@example.com"})["id"]

    def new_products(self, count: int, stock: int) -> list[int]:
        return [self._call("POST", f"{self.frontend}/api/products", 201,
                           json={"name": f"bench-{uuid.uuid4().hex[:10]}", "price": "12.50", "stock": stock})["id"]
                for _ in range(count)]

    def stock(self, product_id: int) -> int:
        return self._call("GET", f"{self.products}/products/{product_id}", 200)["stock"]

    def units_ordered(self, user_id: int, product_ids: list[int]) -> tuple[int, int]:
        """Confirmed orders of ``user_id`` and the units of ``product_ids`` in them, every page read."""
        wanted, orders, units, offset = set(product_ids), 0, 0, 0
        while True:
            page = self._call("GET", f"{self.orders}/api/orders", 200,
                              params={"user_id": user_id, "limit": PAGE, "offset": offset})
            for order in page["items"]:
                if order["status"] == "confirmed":
                    orders += 1
                    units += sum(item["quantity"] for item in order["items"] if item["product_id"] in wanted)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return orders, units

    def stock_check(self, user_id: int, product_ids: list[int], initial: int, settle: float = 20.0) -> dict:
        """Units taken from stock against units in confirmed orders, once the orders still in flight
        when wrk stopped have landed.

        While an order is in flight its stock is sold before the order is confirmed, so the two
        differ for a moment; a difference that stays for ``settle`` seconds is a real mismatch.
        """
        deadline = time.monotonic() + settle
        while True:
            taken = sum(initial - self.stock(product_id) for product_id in product_ids)
            orders, in_orders = self.units_ordered(user_id, product_ids)
            if taken == in_orders or time.monotonic() > deadline:
                return {"units_taken": taken, "units_in_orders": in_orders, "orders_confirmed": orders,
                        "ok": taken == in_orders}
            time.sleep(0.5)
