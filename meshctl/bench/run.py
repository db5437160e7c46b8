"""``python -m meshctl.bench``: the running local mesh (``make up``) under wrk, or with
``--containers`` the mesh in containers (``services.yml``).

Two kinds of row, each at several concurrencies, every row ``--seconds`` long:

- GET /products/<id> on products' app directly, and the same GET through the frontend's upstream
  listener for products (the frontend's Envoy, mTLS, products' Envoy): what the mesh costs. In
  containers no app but the frontend is reachable from the host, so there the row is one GET
  through the frontend (``/api/products/<id>``);
- orders placed end to end through the frontend, with a stock check afterwards: units taken from
  stock must equal units in the confirmed orders.

During each row every app's and Envoy's CPU time and memory are sampled: from /proc, or in
containers from each container's cgroup. The result is printed as a table and written to
``volumes/bench/`` as JSON and a chart. Every address comes from the service definitions
(``meshctl.topology``), as ``make up`` starts them, and in containers from services.yml's
variables (``COMPOSE_PROJECT_NAME``, ``FRONTEND_PORT``).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from meshctl import local
from meshctl.bench import containers, report, wrk
from meshctl.bench.procstats import Sampler
from meshctl.bench.shop import SetupError, Shop

GET_CONCURRENCY = (1, 8, 32)
ORDER_CONCURRENCY = (1, 16, 64)
SHORT_SECONDS = 3
PRODUCTS_PER_ROW = 8
# more than any row sells: the stock check is about units going missing, never about running out
STOCK = 1_000_000


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def not_running(mesh) -> str | None:
    """What of the mesh is missing, or None when every app and Envoy runs and the frontend answers."""
    for service in mesh.values():
        for component, label in ((service.name, service.name), (service.sidecar_id, f"{service.name}'s Envoy")):
            if local.proc(component).pid() is None:
                return f"{label} is not running"
    if not local.app_healthy(mesh["frontend"]):
        return f"the frontend does not answer at {mesh['frontend'].url}"
    return None


def measure(label: str, seconds: int, run, sampler) -> dict:
    """One wrk run, with the mesh sampled around it (``sampler()`` makes a fresh Sampler or
    ContainerSampler); a run that fails is reported, not raised."""
    say(f"{label} ({seconds} s)")
    try:
        with sampler() as sampling:
            result = run()
    except (wrk.WrkError, OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    result["resources"] = sampling.results(result["requests"])
    return result


def get_rows(args, targets: dict[str, str], shop: Shop, sampler) -> list[dict]:
    """``targets``: each side of a GET row (``direct``, ``mesh``; ``frontend`` in containers) and
    its URL, to which the product's id is added."""
    try:
        product = shop.new_products(1, stock=1)[0]
    except SetupError as err:
        return [{"concurrency": c, **{side: {"error": str(err)} for side in targets}} for c in args.get_concurrency]
    urls = {side: f"{url}/{product}" for side, url in targets.items()}
    # the first requests open connections and warm Envoy's pools: not what a row measures
    for url in urls.values():
        try:
            wrk.run(url, 1, 8)
        except (wrk.WrkError, OSError, subprocess.SubprocessError):
            pass  # the row itself will say what is wrong
    rows = []
    for c in args.get_concurrency:
        row = {"concurrency": c}
        for side, url in urls.items():
            row[side] = measure(f"GET {side} c={c}", args.seconds,
                                lambda url=url: wrk.run(url, args.seconds, c), sampler)
        if (row.get("direct") or {}).get("rps") and "rps" in row.get("mesh", {}):
            row["mesh_over_direct_rps"] = round(row["mesh"]["rps"] / row["direct"]["rps"], 3)
            row["added_p50_ms"] = round(row["mesh"]["latency_ms"]["p50"] - row["direct"]["latency_ms"]["p50"], 2)
        rows.append(row)
    return rows


def order_rows(args, frontend: str, shop: Shop, sampler) -> list[dict]:
    rows = []
    for c in args.order_concurrency:
        # a fresh user per row: that user's orders are exactly this row's orders
        try:
            user, products = shop.new_user(), shop.new_products(PRODUCTS_PER_ROW, STOCK)
        except SetupError as err:
            rows.append({"concurrency": c, "error": str(err)})
            continue
        row = {"concurrency": c, "user_id": user, "product_ids": products}
        row |= measure(f"orders c={c}", args.seconds,
                       lambda: wrk.run(frontend, args.seconds, c, wrk.ORDERS,
                                       (user, ",".join(map(str, products)))), sampler)
        try:
            row["stock"] = shop.stock_check(user, products, STOCK)
        except SetupError as err:
            row["stock"] = {"ok": False, "error": str(err)}
        rows.append(row)
    return rows


def concurrencies(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of numbers like 1,8,32") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrencies must be 1 or more")
    return values


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m meshctl.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS") or 10),
                        help="length of each row (default: $BENCH_SECONDS, else 10)")
    parser.add_argument("--short", action="store_true", help=f"{SHORT_SECONDS} s rows, for CI (overrides --seconds)")
    parser.add_argument("--get-concurrency", type=concurrencies, default=GET_CONCURRENCY, metavar="1,8,32")
    parser.add_argument("--order-concurrency", type=concurrencies, default=ORDER_CONCURRENCY, metavar="1,16,64")
    parser.add_argument("--containers", action="store_true",
                        help="the mesh in containers instead: Compose project $COMPOSE_PROJECT_NAME (default "
                             f"{containers.DEFAULT_PROJECT}), frontend on 127.0.0.1:$FRONTEND_PORT")
    parser.add_argument("--out", type=Path, default=local.VOLUMES / "bench",
                        help="where the JSON and the chart go (default: volumes/bench)")
    args = parser.parse_args(argv)
    if args.short:
        args.seconds = SHORT_SECONDS
    if args.seconds < 1:
        parser.error("--seconds must be 1 or more (wrk takes whole seconds)")
    return args


@dataclass
class Target:
    """What a bench runs against."""

    about: dict  # what the JSON says of it: mode, services, URLs
    frontend: str
    shop: Shop
    get: dict[str, str]  # each side of the GET rows and its URL, to which a product's id is added
    sampler: Callable  # makes a fresh sampler of CPU and memory for each row


def local_mesh(mesh) -> Target | None:
    """How to bench the local mesh, or None (having said why) when it is not running."""
    missing = not_running(mesh)
    if missing:
        print(f"the mesh is not running ({missing}): start it with `make up`", file=sys.stderr)
        return None
    # pid files name each component's root process (gunicorn's master, Envoy); make up wrote them
    roots = {name: local.proc(name).pid() for service in mesh.values() for name in (service.name, service.sidecar_id)}
    frontend = mesh["frontend"].url
    direct, through_mesh = mesh["products"].url, mesh["frontend"].upstream_env()["PRODUCTS_URL"]
    return Target(
        about={"mode": "local", "services": list(mesh),
               "urls": {"direct": direct, "mesh": through_mesh, "orders": f"{frontend}/api/orders"}},
        frontend=frontend,
        shop=Shop(frontend, direct, mesh["orders"].url),
        get={"direct": f"{direct}/products", "mesh": f"{through_mesh}/products"},
        sampler=lambda: Sampler(roots),
    )


def container_mesh(mesh) -> Target | None:
    """How to bench the mesh in containers, or None (having said why) when it is not running."""
    project, frontend = containers.project(), containers.frontend_url(mesh["frontend"].port)
    start = f"start it with `{containers.up_command(project)}`"
    if not containers.answers(f"{frontend}{mesh['frontend'].health_path}"):
        print(f"the mesh in containers is not running (the frontend does not answer at {frontend}): {start}",
              file=sys.stderr)
        return None
    try:
        ids, missing = containers.measured(project, list(mesh))
    except containers.DockerError as err:
        missing = str(err)
    if missing:
        print(f"the mesh in containers is not complete ({missing}): {start}", file=sys.stderr)
        return None
    read, source, interval = containers.reader(ids)
    return Target(
        # the databases' containers are sampled too, for the JSON
        about={"mode": "containers", "project": project, "services": list(mesh), "containers": list(ids),
               "resource_source": source,
               "urls": {"frontend": f"{frontend}/api/products", "orders": f"{frontend}/api/orders"}},
        frontend=frontend,
        # the stock check reads products and orders through the frontend, the one way in
        shop=Shop(frontend, f"{frontend}/api", frontend),
        get={"frontend": f"{frontend}/api/products"},
        sampler=lambda: containers.ContainerSampler(read, list(ids), interval),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mesh = local.services()
    target = container_mesh(mesh) if args.containers else local_mesh(mesh)
    if target is None:
        return 1
    if not wrk.installed():
        print("wrk is not installed: `make bench` installs it (Debian package wrk)", file=sys.stderr)
        return 1

    started, now = time.monotonic(), datetime.now().astimezone()
    result = {
        "date": now.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "wrk": wrk.version(),
        "seconds_per_row": args.seconds,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **target.about,
    }
    say(f"bench ({result['mode']}): {result['cores']} cores, Python {result['python']}, wrk {result['wrk']}, "
        f"{args.seconds} s per row")
    result["get"] = get_rows(args, target.get, target.shop, target.sampler)
    result["orders"] = order_rows(args, target.frontend, target.shop, target.sampler)
    result["took_s"] = round(time.monotonic() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    # a containers run keeps its own latest files, beside the local mesh's
    tag = "-containers" if args.containers else ""
    stamped = args.out / f"bench{tag}-{now.strftime('%Y%m%d-%H%M%S')}.json"
    latest, png = args.out / f"latest{tag}.json", args.out / f"latest{tag}.png"
    for path in (stamped, latest):
        path.write_text(text)
    report.chart(result, png)
    print("\n" + report.table(result) + "\n")
    print(f"took {result['took_s']:.0f} s; wrote {stamped}, {latest}, {png}")

    failed = [f"GET c={row['concurrency']} {side}" for row in result["get"] for side in report.get_sides(result)
              if "error" in row[side]]
    failed += [f"orders c={row['concurrency']}" for row in result["orders"] if "error" in row]
    mismatched = [f"orders c={row['concurrency']}" for row in result["orders"]
                  if not (row.get("stock") or {}).get("ok")]
    if failed or mismatched:
        print(f"rows that did not run: {', '.join(failed) or 'none'}; "
              f"stock checks not OK: {', '.join(mismatched) or 'none'}", file=sys.stderr)
        return 1
    return 0
