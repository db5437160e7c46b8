"""The canary's checks, shared by the local and the container suites: who served each answer
(Served-By), the weights every caller's Envoy routes by, and orders placed while the weights move."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import crashload
from meshctl import splits, topology
from polling import eventually

VERSIONS = topology.load(Path(__file__).resolve().parents[1] / "consul-config")["products"].versions
CLIENTS = 8
HOLD = 4.0  # seconds of ordering at each weight


def asked(weights: tuple[str, ...]) -> dict[str, float]:
    """The split ``python -m meshctl split products <weights>`` makes, as Envoy routes it (a
    version weighted 0 gets no cluster in its route)."""
    return {version: weight for version, weight in splits.weights(list(weights), VERSIONS).items() if weight}


def wait_for_weights(read, callers, expected: dict[str, float], timeout: float = 30) -> None:
    """Until the Envoy of every one of ``callers`` (``read(caller)``: the split it routes products by)
    routes by ``expected``."""
    seen = {}

    def every_envoy_has_it() -> bool:
        seen.update({caller: read(caller) for caller in callers})
        return all({k: v for k, v in (held or {}).items() if v} == expected for held in seen.values())
    eventually(f"every caller's Envoy to split products {expected}", every_envoy_has_it, timeout=timeout,
               interval=0.25, tails=lambda: f"they hold: {seen}")


def products_instance(answer) -> str:
    """The products instance an answer's Served-By names (itself, or a caller's relay of it)."""
    return next(name for name in answer.headers["Served-By"].split(", ") if name.startswith("products/"))


def versions_serving(http, url: str, requests: int) -> Counter:
    """Which products instance served each of ``requests`` GETs of ``url``."""
    served = Counter()
    for _ in range(requests):
        answer = http.get(url, timeout=10)
        assert answer.status_code == 200, answer.text
        served[products_instance(answer)] += 1
    return served


def share_of(served: Counter, version: str) -> float:
    """The percentage of ``served`` that instances of ``version`` served."""
    return 100 * sum(n for name, n in served.items() if name.split("/")[1] == version) / sum(served.values())


def ninety_ten(http, url: str, through: str) -> None:
    """At 90/10, 2,000 GETs of a product (``url``, holding 3 in stock) are served about one in ten by
    v2 (10 % ± 3 points), and each version answers as it should: v2 with the product's availability."""
    served = versions_serving(http, url, 2000)
    share = share_of(served, "v2")
    print(f"\n2,000 GETs at 90/10 through {through}: {dict(served)}, v2 {share:.1f} %")
    assert 7 <= share <= 13, served
    assert availability_by_version(http, url) == {"v1": None, "v2": "low_stock"}


def availability_by_version(http, url: str, tries: int = 400) -> dict[str, str | None]:
    """{version: the product's availability as it answered} for each version, once each has answered."""
    seen: dict[str, str | None] = {}
    for _ in range(tries):
        answer = http.get(url, timeout=10)
        seen.setdefault(products_instance(answer).split("/")[1], answer.json().get("availability"))
        if len(seen) == len(VERSIONS):
            break
    return seen


def orders_while_moving(frontend: str, split, steps: tuple[str, ...]) -> tuple[dict, dict]:
    """Orders placed through ``frontend`` by CLIENTS clients while ``split(step)`` moves products'
    weights through ``steps``, each held for HOLD seconds; the answers, and the ledger checked."""
    shop = crashload.Shop(frontend)
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(crashload.run, shop, lambda: "-", clients=CLIENTS, seconds=600, kill_every=1,
                           idempotent=False, until=done)
        try:
            for step in steps:
                split(step)
                time.sleep(HOLD)  # ordering at this weight: a length of load, not a wait for anything
        finally:
            done.set()
        result = load.result()
    books = crashload.check(shop, result, within=60, allowed=(201,))
    return result, books
