"""``python -m meshctl.bench``: the running local mesh (``make up``) under wrk.

Two kinds of row, each at several concurrencies, every row ``--seconds`` long:

- GET /products/<id> on products' app directly, and the same GET through the frontend's upstream
  listener for products (the frontend's Envoy, mTLS, products' Envoy): what the mesh costs;
- orders placed end to end through the frontend, with a stock check afterwards: units taken from
  stock must equal units in the confirmed orders.

During each row every app's and Envoy's CPU time and memory are sampled from /proc. The result is
printed as a table and written to ``volumes/bench/`` as JSON and a chart. Every address comes from
the service definitions (``meshctl.topology``), as ``make up`` starts them.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from meshctl import local
from meshctl.bench import report, wrk
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


def measure(label: str, seconds: int, run, roots: dict[str, int]) -> dict:
    """One wrk run, with the mesh's processes sampled around it; a run that fails is reported, not raised."""
    say(f"{label} ({seconds} s)")
    try:
        with Sampler(roots) as sampler:
            result = run()
    except (wrk.WrkError, OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    result["resources"] = sampler.results(result["requests"])
    return result


def get_rows(args, mesh, shop: Shop, roots) -> list[dict]:
    try:
        product = shop.new_products(1, stock=1)[0]
    except SetupError as err:
        return [{"concurrency": c, "direct": {"error": str(err)}, "mesh": {"error": str(err)}}
                for c in args.get_concurrency]
    direct = f"{mesh['products'].url}/products/{product}"
    through_mesh = f"{mesh['frontend'].upstream_env()['PRODUCTS_URL']}/products/{product}"
    # the first requests open connections and warm Envoy's pools: not what a row measures
    for url in (direct, through_mesh):
        try:
            wrk.run(url, 1, 8)
        except (wrk.WrkError, OSError, subprocess.SubprocessError):
            pass  # the row itself will say what is wrong
    rows = []
    for c in args.get_concurrency:
        row = {"concurrency": c,
               "direct": measure(f"GET direct c={c}", args.seconds, lambda: wrk.run(direct, args.seconds, c), roots),
               "mesh": measure(f"GET mesh c={c}", args.seconds,
                               lambda: wrk.run(through_mesh, args.seconds, c), roots)}
        if row["direct"].get("rps") and "rps" in row["mesh"]:
            row["mesh_over_direct_rps"] = round(row["mesh"]["rps"] / row["direct"]["rps"], 3)
            row["added_p50_ms"] = round(row["mesh"]["latency_ms"]["p50"] - row["direct"]["latency_ms"]["p50"], 2)
        rows.append(row)
    return rows


def order_rows(args, mesh, shop: Shop, roots) -> list[dict]:
    frontend = mesh["frontend"].url
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
                                       (user, ",".join(map(str, products)))), roots)
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
    parser.add_argument("--out", type=Path, default=local.VOLUMES / "bench",
                        help="where the JSON and the chart go (default: volumes/bench)")
    args = parser.parse_args(argv)
    if args.short:
        args.seconds = SHORT_SECONDS
    if args.seconds < 1:
        parser.error("--seconds must be 1 or more (wrk takes whole seconds)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    mesh = local.services()
    missing = not_running(mesh)
    if missing:
        print(f"the mesh is not running ({missing}): start it with `make up`", file=sys.stderr)
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
        "services": list(mesh),
        "urls": {"direct": mesh["products"].url, "mesh": mesh["frontend"].upstream_env()["PRODUCTS_URL"],
                 "orders": f"{mesh['frontend'].url}/api/orders"},
    }
    say(f"bench: {result['cores']} cores, Python {result['python']}, wrk {result['wrk']}, {args.seconds} s per row")
    # pid files name each component's root process (gunicorn's master, Envoy); make up wrote them
    roots = {name: local.proc(name).pid() for service in mesh.values() for name in (service.name, service.sidecar_id)}
    shop = Shop(mesh["frontend"].url, mesh["products"].url, mesh["orders"].url)
    result["get"] = get_rows(args, mesh, shop, roots)
    result["orders"] = order_rows(args, mesh, shop, roots)
    result["took_s"] = round(time.monotonic() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    stamped = args.out / f"bench-{now.strftime('%Y%m%d-%H%M%S')}.json"
    for path in (stamped, args.out / "latest.json"):
        path.write_text(text)
    report.chart(result, args.out / "latest.png")
    print("\n" + report.table(result) + "\n")
    print(f"took {result['took_s']:.0f} s; wrote {stamped}, {args.out / 'latest.json'}, {args.out / 'latest.png'}")

    failed = [f"GET c={row['concurrency']} {side}" for row in result["get"] for side in ("direct", "mesh")
              if "error" in row[side]]
    failed += [f"orders c={row['concurrency']}" for row in result["orders"] if "error" in row]
    mismatched = [f"orders c={row['concurrency']}" for row in result["orders"]
                  if not (row.get("stock") or {}).get("ok")]
    if failed or mismatched:
        print(f"rows that did not run: {', '.join(failed) or 'none'}; "
              f"stock checks not OK: {', '.join(mismatched) or 'none'}", file=sys.stderr)
        return 1
    return 0
