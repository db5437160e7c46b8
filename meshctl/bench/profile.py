"""``python -m meshctl.bench.profile`` (``make profile``): where the local mesh's Python spends its CPU
while it places orders.

Against the running local mesh (``make up``), one orders row (wrk, as ``make bench``'s) while py-spy
samples every app's gunicorn master and workers at ``--rate`` per second. Only a thread at work is a
sample: py-spy leaves out the threads it finds idle, and of the rest the summary and the flame graph
leave out those whose innermost frame is a wait (``WAITS``: a select, a socket read, a lock, a
condition, a sleep; py-spy cannot always tell a thread blocked in C from one at work). It writes,
under ``volumes/bench/profile-<timestamp>/``:

- ``<service>.txt``: the samples as collapsed stacks (``frame;frame;… count``, py-spy's raw format);
- ``<service>.svg``: a flame graph of them (``flamegraph``: each frame as wide as its samples);
- ``summary.json``: per service, the busy samples, the top frames by their own samples (``self``)
  and by the samples they are under (``total``), and each library's share of the busy samples,
  a sample counted for the innermost library on its stack (SQLAlchemy, requests and urllib3,
  OpenTelemetry, Flask and Werkzeug, pydantic …).

and prints the same as a table, with the row's orders/s and each app's CPU per order (``procstats``).
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from meshctl import local
from meshctl.bench import flamegraph, wrk
from meshctl.bench.procstats import Sampler
from meshctl.bench.run import STOCK, PRODUCTS_PER_ROW, local_mesh, say
from meshctl.bench.shop import SetupError

# the library a frame belongs to, by the path of its file: the first that matches
LIBRARIES = (
    ("sqlalchemy", "/sqlalchemy/"), ("sqlite3", "/sqlite3/"), ("psycopg", "/psycopg"),
    ("requests+urllib3", "/requests/"), ("requests+urllib3", "/urllib3/"),
    ("http.client", "/http/client.py"), ("opentelemetry", "/opentelemetry/"),
    ("flask+werkzeug", "/flask/"), ("flask+werkzeug", "/werkzeug/"), ("flask-openapi3", "/flask_openapi3/"),
    ("pydantic", "/pydantic"), ("json", "/json/"), ("gunicorn", "/gunicorn/"), ("prometheus", "/prometheus_client/"),
    ("logging", "/logging/"), ("shop", "/shopcommon/"), ("shop", "/orders/"), ("shop", "/products/"),
    ("shop", "/users/"), ("shop", "/frontend/"),
)
TOP = 12
# innermost frames that are a thread waiting, not working (module, function): left out of the busy samples
WAITS = {("selectors.py", "select"), ("socket.py", "readinto"), ("threading.py", "wait"),
         ("threading.py", "__exit__"), ("thread.py", "_worker"), ("arbiter.py", "wait_for_signals"),
         ("arbiter.py", "sleep"), ("wait.py", "do_poll"), ("queue.py", "get"), ("ssl.py", "read"),
         ("threading.py", "_wait_for_tstate_lock"), ("export/__init__.py", "worker"), ("_shared_internal/__init__.py", "worker")}


def library(frame: str) -> str | None:
    """``frame`` is py-spy's ``function (path:line)``, the path whole or shortened (``sqlalchemy/…``)."""
    where = "/" + frame.partition(" (")[2]
    return next((name for name, part in LIBRARIES if part in where), None)


def waiting(frame: str) -> bool:
    """Whether py-spy's ``function (path:line)`` is one of the ``WAITS``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return any(name.rsplit(".", 1)[-1] == function and path.endswith(module) for module, function in WAITS)


def read_collapsed(path: Path) -> Counter:
    """{stack (frames root first, joined by ';'): samples} from py-spy's raw output, leaving out the
    samples of a thread that was waiting (its innermost frame one of the ``WAITS``)."""
    stacks: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and not waiting(stack.rsplit(";", 1)[-1]):
            stacks[stack] += int(count)
    return stacks


def _short(frame: str) -> str:
    """``function (…/site-packages/sqlalchemy/orm/session.py:2100)`` as ``function (sqlalchemy/orm/session.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/apps/", "/work/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def summarise(stacks: Counter) -> dict:
    """Busy samples, the top frames by self and total samples, and each library's share (each sample
    counted for the innermost of its frames that belongs to one)."""
    busy = sum(stacks.values())
    own, under, libraries = Counter(), Counter(), Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            under[frame] += n
        # the sample's library: its innermost frame that is one of LIBRARIES' (a library that wraps
        # every request, gunicorn's or OpenTelemetry's middleware, would be under them all)
        libraries[next((name for name in map(library, reversed(frames)) if name), "other")] += n
    share = (lambda n: round(100 * n / busy, 1)) if busy else (lambda n: 0.0)
    return {
        "busy_samples": busy,
        "self": [(frame, n, share(n)) for frame, n in own.most_common(TOP)],
        "total": [(frame, n, share(n)) for frame, n in under.most_common(TOP * 2) if n < busy][:TOP],
        "libraries": {name: share(n) for name, n in libraries.most_common()},
    }


def record(pid: int, seconds: int, rate: int, out: Path) -> subprocess.Popen:
    """py-spy sampling ``pid`` and its workers for ``seconds``, writing collapsed stacks to ``out``."""
    py_spy = Path(sys.executable).with_name("py-spy")
    argv = [str(py_spy), "record", "--pid", str(pid), "--subprocesses", "--full-filenames", "--rate", str(rate),
            "--duration", str(seconds), "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def table(summary: dict) -> str:
    lines = [f"orders c={summary['concurrency']}: {summary['orders_per_s']} orders/s, p50 {summary['p50_ms']} ms, "
             f"p99 {summary['p99_ms']} ms, {summary['errors']} errors; stock {summary['stock']}",
             "CPU ms per order: " + ", ".join(f"{name} {ms}" for name, ms in summary["cpu_ms_per_order"].items())]
    for service, found in summary["services"].items():
        libraries = ", ".join(f"{name} {pct}%" for name, pct in found["libraries"].items())
        lines += ["", f"{service}: {found['busy_samples']} busy samples; by the innermost library: {libraries}",
                  "  top frames by their own samples:"]
        lines += [f"    {pct:5.1f}%  {frame}" for frame, _, pct in found["self"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meshctl.bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="how long wrk orders and py-spy samples (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="wrk's connections (default 16)")
    parser.add_argument("--rate", type=int, default=100, help="py-spy's samples per second (default 100)")
    parser.add_argument("--out", type=Path, default=local.VOLUMES / "bench")
    args = parser.parse_args(argv)
    mesh = local.services()
    target = local_mesh(mesh)
    if target is None:
        return 1
    if not wrk.installed():
        print("wrk is not installed: `make profile` installs it (Debian package wrk)", file=sys.stderr)
        return 1
    if not Path(sys.executable).with_name("py-spy").exists():
        print("py-spy is not installed in this virtualenv: `make venv` installs it", file=sys.stderr)
        return 1
    try:
        user, products = target.shop.new_user(), target.shop.new_products(PRODUCTS_PER_ROW, STOCK)
    except SetupError as err:
        print(f"cannot set up the orders row: {err}", file=sys.stderr)
        return 1
    folder = args.out / f"profile-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    roots = {name: local.proc(name).pid() for service in mesh.values() for name in (service.name, service.sidecar_id)}
    say(f"orders c={args.concurrency} for {args.seconds} s, py-spy at {args.rate}/s on {', '.join(mesh)}")
    spies = {name: record(roots[name], args.seconds, args.rate, folder / f"{name}.txt") for name in mesh}
    time.sleep(1)  # py-spy attached to every worker before the first order
    with Sampler(roots) as sampling:
        row = wrk.run(target.frontend, args.seconds, args.concurrency, wrk.ORDERS,
                      (user, ",".join(map(str, products))))
    resources = sampling.results(row["ok"])
    problems = []
    for name, spy in spies.items():
        try:
            _, err = spy.communicate(timeout=args.seconds + 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if spy.returncode != 0 or not (folder / f"{name}.txt").exists():
            problems.append(f"py-spy on {name} (pid {roots[name]}) failed: {err.strip()[-300:]}")
    summary = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "concurrency": args.concurrency, "seconds": args.seconds, "rate": args.rate,
        "orders_per_s": row["rps"], "p50_ms": row["latency_ms"]["p50"], "p99_ms": row["latency_ms"]["p99"],
        "errors": row["errors"],
        "stock": "OK" if target.shop.stock_check(user, products, STOCK).get("ok") else "MISMATCH",
        "cpu_ms_per_order": {name: round(found["cpu_s_per_1k"], 2) for name, found in resources.items()
                             if found["cpu_s_per_1k"] is not None},
        "services": {},
    }
    for name in mesh:
        collapsed = folder / f"{name}.txt"
        if not collapsed.exists():
            continue
        stacks = read_collapsed(collapsed)
        summary["services"][name] = summarise(stacks)
        flamegraph.write(stacks, folder / f"{name}.svg", f"{name}: orders c={args.concurrency}, "
                         f"{args.seconds} s at {args.rate} samples/s (threads at work only)")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n" + table(summary) + "\n")
    print(f"wrote {folder}: each service's collapsed stacks (.txt), flame graph (.svg) and summary.json")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
