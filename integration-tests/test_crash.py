"""Nothing lost when processes die: SIGKILL orders' and products' workers while orders are placed."""

import os
import random
import signal
from pathlib import Path

import crashload
from conftest import FRONTEND
from meshctl.local import proc


def workers(service: str) -> list[int]:
    """The gunicorn workers of ``service`` (children of the master `make up` started)."""
    master = proc(service).pid()
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def kill_a_worker() -> str:
    service = random.choice(["orders", "products"])
    victim = random.choice(workers(service))
    os.kill(victim, signal.SIGKILL)
    return f"{service}:{victim}"


def test_killing_workers_loses_no_stock_and_no_confirmed_order(mesh):
    shop = crashload.Shop(FRONTEND)
    result = crashload.run(shop, kill_a_worker, clients=16, seconds=12, kill_every=1.5)
    crashload.check(shop, result, within=60)
