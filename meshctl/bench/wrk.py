"""wrk, driven with our Lua scripts: one run against one URL, read back as numbers.

The scripts print their result as one ``BENCH-JSON {…}`` line from wrk's ``done()`` (``count.lua``),
so nothing here parses wrk's human-readable summary.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
COUNT = HERE / "count.lua"  # counts answers by status: enough for a plain GET
ORDERS = HERE / "orders.lua"  # places orders, spread over products
MARKER = "BENCH-JSON "
# an order at concurrency 64 waits behind the others for well over wrk's default 2 s; only an answer
# slower than this counts as a timeout
TIMEOUT = "15s"


class WrkError(Exception):
    """wrk ran but gave no result; the message has its output."""


def installed() -> bool:
    return shutil.which("wrk") is not None


def version() -> str:
    """``4.1.0-3+b2`` from ``wrk debian/4.1.0-3+b2 [epoll] …`` (wrk -v exits 1, so the code is ignored)."""
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    found = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    return found.group(1) if found else out.strip().splitlines()[0]


def threads(connections: int, ways: int = 1) -> int:
    """wrk's threads for a run: the mesh runs on the same cores as wrk, so two at most leave it the
    rest, unless the connections are spread over more ``ways`` in than that (a thread each)."""
    return min(max(2, ways), connections)


def spread(connections: int, ways: int) -> list[int]:
    """How many of ``connections`` each of ``ways`` in gets: wrk gives each thread ``connections //
    threads`` of them (so a remainder is never opened) and count.lua sends thread i to way i mod ways."""
    count = threads(connections, ways)
    shares = [0] * ways
    for thread in range(count):
        shares[thread % ways] += connections // count
    return shares


def run(url: str, seconds: int, connections: int, script: Path = COUNT, args: tuple = (),
        ways_in: tuple[str, ...] = ()) -> dict:
    """``connections`` keep-alive connections for ``seconds``; the answer counts and latencies.

    ``ways_in`` (URLs of the same shop as ``url``, which may be one of them): the connections are
    spread over them by thread (``spread``), and the requests still name ``url``'s host.
    """
    argv = ["wrk", f"-t{threads(connections, len(ways_in))}", f"-c{connections}", f"-d{seconds}s",
            f"--timeout={TIMEOUT}", "-s", str(script), url]
    if args:
        argv += ["--", *map(str, args)]
    # one wrk for every way in, so its latency percentiles are over all the requests
    addresses = ",".join(urlsplit(way_in).netloc for way_in in ways_in)
    env = os.environ | {"BENCH_ADDRESSES": addresses} if ways_in else None
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, env=env)
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return summary(json.loads(line[len(MARKER):]))
    raise WrkError(f"wrk gave no result (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}")


def summary(raw: dict) -> dict:
    """The script's numbers as the bench reports them: 2xx answers per second, milliseconds, errors."""
    seconds = raw["duration_us"] / 1e6
    statuses = {int(status): n for status, n in raw["statuses"].items()}
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    socket_errors = {kind: n for kind, n in raw["socket_errors"].items() if n}
    bad_statuses = {str(status): n for status, n in sorted(statuses.items()) if not 200 <= status < 300}
    return {
        "seconds": round(seconds, 3),
        "requests": raw["requests"],  # every answer, whatever its status
        "ok": ok,
        # errors are not throughput: a refusal is often faster than the real answer
        "rps": round(ok / seconds, 1) if seconds else 0.0,
        "latency_ms": {name: round(us / 1000, 2) for name, us in raw["latency_us"].items()},
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "errors": sum(bad_statuses.values()) + sum(socket_errors.values()),
        "error_statuses": bad_statuses,
        "socket_errors": socket_errors,
    }
