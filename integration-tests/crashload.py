"""The crash test both suites run: orders placed by concurrent clients while workers of orders and
products are killed with SIGKILL, then the ledger: stock taken must equal units in confirmed orders.

Every answer is counted. A 201 is a promise: its order must be there, confirmed, afterwards.
"""

import random
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from polling import eventually


class Shop:
    """The frontend's API, as the clients and the ledger use it."""

    def __init__(self, frontend: str):
        self.frontend = frontend

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        return session

    def setup(self, products: int, stock: int) -> tuple[int, dict[int, int]]:
        """A fresh user and ``products`` fresh products with ``stock`` each: {product id: stock}."""
        with self._session() as s:
            user = s.post(f"{self.frontend}/api/users", timeout=30, json={
                "name": "Crash Test", "email": f"crash-{uuid.uuid4().hex[:10]}@example.com"}).json()
            made = {}
            for _ in range(products):
                p = s.post(f"{self.frontend}/api/products", timeout=30, json={
                    "name": f"crash-{uuid.uuid4().hex[:8]}", "price": "1.00", "stock": stock}).json()
                made[p["id"]] = stock
        return user["id"], made

    def ledger(self, user_id: int, initial: dict[int, int]) -> dict:
        """Units taken from the products' stock, and units in the user's confirmed orders."""
        with self._session() as s:
            taken = sum(stock - s.get(f"{self.frontend}/api/products/{pid}", timeout=30).json()["stock"]
                        for pid, stock in initial.items())
            in_orders, ids, offset = 0, set(), 0
            while True:
                page = s.get(f"{self.frontend}/api/orders", timeout=30,
                             params={"user_id": user_id, "limit": 100, "offset": offset}).json()
                for o in page["items"]:
                    assert o["status"] == "confirmed", o
                    ids.add(o["id"])
                    in_orders += sum(item["quantity"] for item in o["items"] if item["product_id"] in initial)
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        return {"taken": taken, "in_orders": in_orders, "order_ids": ids}


def run(shop: Shop, kill_one, clients: int = 16, seconds: float = 12, kill_every: float = 1.5,
        idempotent: bool = False, until: threading.Event | None = None, on_failure=None) -> dict:
    """Order for ``seconds`` (or until ``until`` is set, if sooner) from ``clients`` threads while
    ``kill_one()`` SIGKILLs a worker every ``kill_every`` seconds; the answers, the kills, the placed
    ids and the time of the last kill.

    ``idempotent``: each order carries an Idempotency-Key of its own, as the frontend's order form
    sends one, so the mesh may retry it (consul-config/resilience.hcl), and the
    client does what orders asks of it: told the first request with that key is still in progress
    (409, its order pending until orders settles it), it asks again with the same key, and gets the
    order's final answer. Those second asks are counted in ``asked_again``.

    ``on_failure(outcome, text, seconds)``: called for every answer other than a 201, with how long
    it took (a test's flight recorder)."""
    user_id, initial = shop.setup(products=4, stock=10_000)
    answers: Counter = Counter()
    placed: list[int] = []
    failures: list[str] = []  # the first few answers that were not a 201, to say why
    asked_again: Counter = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def place(s: requests.Session) -> requests.Response:
        body = {"user_id": user_id, "items": [{"product_id": random.choice(list(initial)), "quantity": 1}]}
        key = uuid.uuid4().hex if idempotent else None
        until = time.monotonic() + 60  # orders settles a pending order within about 12 s
        while True:
            r = s.post(f"{shop.frontend}/api/orders", timeout=60, json=body,
                       headers={"Idempotency-Key": key} if key else {})
            if not (key and r.status_code == 409 and r.json()["error"]["code"] == "request_in_progress"
                    and time.monotonic() < until):
                return r
            with lock:
                asked_again[key] += 1
            time.sleep(1)

    def client():
        with shop._session() as s:
            while not stop.is_set():
                started, text = time.monotonic(), ""
                try:
                    r = place(s)
                    outcome, text = r.status_code, r.text[:300]
                    with lock:
                        if outcome == 201:
                            placed.append(r.json()["id"])
                        elif len(failures) < 10:
                            failures.append(f"{outcome} {text}")
                except requests.RequestException as exc:
                    outcome, text = type(exc).__name__, str(exc)[:300]
                with lock:
                    answers[outcome] += 1
                if outcome != 201 and on_failure:
                    on_failure(outcome, text, time.monotonic() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    kills = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until.is_set()):
        (until or stop).wait(kill_every)
        kills.append(kill_one())
    last_kill = time.monotonic()
    stop.set()
    for t in threads:
        t.join(timeout=90)
    return {"user_id": user_id, "initial": initial, "answers": answers, "placed": placed, "kills": kills,
            "last_kill": last_kill, "failures": failures, "asked_again": len(asked_again)}


def check(shop: Shop, result: dict, within: float = 60, allowed: tuple = (201, 503)) -> dict:
    """Until stock taken equals units in confirmed orders (at most ``within`` s after the last kill),
    and every 201 answered is among the confirmed orders; no answer but the ``allowed`` ones."""
    print(f"\ncrash test: answers {dict(result['answers'])}, {len(result['kills'])} kills: {result['kills']}")
    for failure in result["failures"]:
        print(f"crash test: failed: {failure}")
    remaining = within - (time.monotonic() - result["last_kill"])
    books = eventually("stock taken to equal units in confirmed orders",
                       lambda: (b := shop.ledger(result["user_id"], result["initial"]))["taken"] == b["in_orders"] and b,
                       timeout=max(remaining, 1), interval=1)
    print(f"crash test: {books['taken']} units taken = {books['in_orders']} in {len(books['order_ids'])} confirmed orders")
    # a killed worker costs its callers a 503 (retry later); anything else is a bug
    unexpected = {k: v for k, v in result["answers"].items() if k not in allowed}
    assert not unexpected, f"answers other than {allowed}: {unexpected}"
    missing = set(result["placed"]) - books["order_ids"]
    assert not missing, f"answered 201 but not confirmed: {sorted(missing)[:20]}"
    if not result["placed"]:
        pytest.fail(f"no order went through at all: {dict(result['answers'])}")
    return books
