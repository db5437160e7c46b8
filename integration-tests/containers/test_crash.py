"""Nothing lost when processes die, on PostgreSQL: SIGKILL gunicorn workers inside the orders and
products containers while orders are placed through the frontend."""

import random

import crashload
from compose_stack import FRONTEND_PORT, container, docker, settled

# run inside the app container: gunicorn's master is its PID 1, its workers are PID 1's children
KILL_A_WORKER = """
import os, random, signal
workers = [int(p) for p in os.listdir('/proc') if p.isdigit() and p != '1'
           and open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1] == '1']
victim = random.choice(workers)
os.kill(victim, signal.SIGKILL)
print(victim)
"""


def kill_a_worker() -> str:
    service = random.choice(["orders", "products"])
    result = docker("exec", container(service), "python3", "-c", KILL_A_WORKER, timeout=30)
    return f"{service}:{result.stdout.strip() or result.stderr.strip()[-80:]}"


def test_killing_workers_loses_no_stock_and_no_confirmed_order(stack):
    shop = crashload.Shop(f"http://127.0.0.1:{FRONTEND_PORT}")
    result = crashload.run(shop, kill_a_worker, clients=16, seconds=12, kill_every=1.5)
    crashload.check(shop, result, within=60)
    settled()  # leave the mesh steady for the tests after this one
