"""``python -m meshctl.bench``: the running local mesh (``make up``) under wrk, or with
``--containers`` the mesh in containers (``services.yml``), or with ``--cluster`` the mesh at scale
(``cluster.yml``).

Two kinds of row, each at several concurrencies, every row ``--seconds`` long:

- GET /products/<id> on products' app directly, and the same GET through the frontend's upstream
  listener for products (the frontend's Envoy, mTLS, products' Envoy): what the mesh costs. In
  containers no app but the frontend is reachable from the host, so there the row is one GET
  through the frontend (``/api/products/<id>``);
- orders placed end to end through the frontend, with a stock check afterwards: units taken from
  stock must equal units in the confirmed orders.

The cluster has orders rows only, through its ingress gateways (the one way in from the host, so no
GET compares with anything): wrk's connections spread over the gateways, a thread each in turn.

During each row every app's and Envoy's CPU time and memory are sampled: from /proc, or in
containers from each container's cgroup. The result is printed as a table and written to
``volumes/bench/`` as JSON and a chart. Every address comes from the service definitions
(``meshctl.topology``), as ``make up`` starts them, in containers from services.yml's variables
(``COMPOSE_PROJECT_NAME``, ``FRONTEND_PORT``), and in the cluster from cluster.yml as Compose reads
it with its variables (``COMPOSE_PROJECT_NAME``, ``CLUSTER_PORT``, ``CLUSTER_PORT_2``).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from meshctl import local, traces
from meshctl.bench import cluster, containers, report, wrk
from meshctl.bench.procstats import Machine, Sampler
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
        with sampler() as sampling, Machine() as machine:
            result = run()
    except (wrk.WrkError, OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    result["resources"] = sampling.results(result["requests"])
    # per answer of any status, as the components' figures are
    result["machine"] = machine.results(result["requests"])
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


def order_rows(args, target: "Target") -> list[dict]:
    shop, ways_in = target.shop, tuple(target.ways_in.values())
    rows = []
    for c in args.order_concurrency:
        # a fresh user per row: that user's orders are exactly this row's orders
        try:
            user, products = shop.new_user(), shop.new_products(PRODUCTS_PER_ROW, STOCK)
        except SetupError as err:
            rows.append({"concurrency": c, "error": str(err)})
            continue
        row = {"concurrency": c, "user_id": user, "product_ids": products}
        if ways_in:
            row["clients"] = dict(zip(target.ways_in, wrk.spread(c, len(ways_in))))
        row |= measure(f"orders c={c}", args.seconds,
                       lambda: wrk.run(target.frontend, args.seconds, c, wrk.ORDERS,
                                       (user, ",".join(map(str, products))), ways_in), target.sampler)
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
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--containers", dest="mode", action="store_const", const="containers",
                       help="the mesh in containers instead: Compose project $COMPOSE_PROJECT_NAME (default "
                            f"{containers.DEFAULT_PROJECT}), frontend on 127.0.0.1:$FRONTEND_PORT")
    where.add_argument("--cluster", dest="mode", action="store_const", const="cluster",
                       help=f"the mesh at scale instead ({cluster.FILE}, Compose project $COMPOSE_PROJECT_NAME, "
                            "else its name:): orders through its ingress gateways, on the host ports it publishes "
                            "($CLUSTER_PORT, $CLUSTER_PORT_2)")
    parser.set_defaults(mode="local")
    parser.add_argument("--against", type=Path, metavar="JSON",
                        help="an earlier run's JSON (volumes/bench/bench-*.json): its orders rows beside this run's, "
                             "with the ratios, in the table and the chart (before and after a change)")
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
    get: dict[str, str]  # each side of the GET rows and its URL, to which a product's id is added; {}: no GET rows
    sampler: Callable  # makes a fresh sampler of CPU and memory for each row
    environment: Callable[[], dict[str, str]]  # reads the frontend app's environment, as the mesh started it
    # the ways in that the orders' connections spread over, by name, each with its URL; {}: the frontend alone
    ways_in: dict[str, str] = field(default_factory=dict)


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
        environment=lambda: process_environment(roots["frontend"]),
    )


def process_environment(pid: int) -> dict[str, str]:
    """A running process's environment, as it was started."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def tracing(environment: dict[str, str]) -> dict:
    """What the apps traced during the run, from an app's environment (every app of a mesh is
    started with the same tracing settings): whether they export spans at all, and the share of
    the traces they start that is sampled (``meshctl.traces``, ``shopcommon.tracing``)."""
    if not environment.get(traces.ENDPOINT_ENV):
        return {"on": False}
    return {"on": True, "sample_ratio": traces.sample_ratio(environment)}


def sampled(what: str, project: str, start: str, required: Sequence[str], optional: Sequence[str] = ()):
    """What the JSON says of a Compose project's sampled containers, and how to make a sampler of
    them; None (having said why) when a ``required`` one is not running."""
    try:
        ids, missing = containers.measured(project, required, optional)
    except containers.DockerError as err:
        missing = str(err)
    if missing:
        print(f"{what} is not complete ({missing}): {start}", file=sys.stderr)
        return None
    read, source, interval = containers.reader(ids)
    return ({"project": project, "containers": list(ids), "resource_source": source},
            lambda: containers.ContainerSampler(read, list(ids), interval))


def container_mesh(mesh) -> Target | None:
    """How to bench the mesh in containers, or None (having said why) when it is not running."""
    project, frontend = containers.project(), containers.frontend_url(mesh["frontend"].port)
    start = f"start it with `{containers.up_command(project)}`"
    if not containers.answers(f"{frontend}{mesh['frontend'].health_path}"):
        print(f"the mesh in containers is not running (the frontend does not answer at {frontend}): {start}",
              file=sys.stderr)
        return None
    # the databases' containers are sampled too, for the JSON
    found = sampled("the mesh in containers", project, start, *containers.components(list(mesh)))
    if found is None:
        return None
    sampling, sampler = found
    return Target(
        about={"mode": "containers", **sampling, "services": list(mesh),
               "urls": {"frontend": f"{frontend}/api/products", "orders": f"{frontend}/api/orders"}},
        frontend=frontend,
        # the stock check reads products and orders through the frontend, the one way in
        shop=Shop(frontend, f"{frontend}/api", frontend),
        get={"frontend": f"{frontend}/api/products"},
        sampler=sampler,
        environment=lambda: containers.environment(project, "frontend"),
    )


def cluster_mesh(mesh) -> Target | None:
    """How to bench the mesh at scale, or None (having said why) when it is not running."""
    try:
        layout = cluster.layout(cluster.config(), cluster.listener_ports(), list(mesh))
    except (containers.DockerError, cluster.LayoutError, KeyError, ValueError) as err:
        print(f"cannot tell where the cluster is from {cluster.FILE}: {err}", file=sys.stderr)
        return None
    start = f"start it with `{containers.up_command(layout.project, cluster.FILE)}`"
    silent = [f"{gateway.name} does not answer at {gateway.url}" for gateway in layout.gateways
              if not containers.answers(f"{gateway.url}{mesh['frontend'].health_path}")]
    if silent:
        print(f"the cluster is not running ({'; '.join(silent)}): {start}", file=sys.stderr)
        return None
    found = sampled("the cluster", layout.project, start, layout.containers)
    if found is None:
        return None
    (sampling, sampler), way_in = found, layout.gateways[0].url
    return Target(
        about={"mode": "cluster", **sampling, "services": list(mesh),
               "gateways": {gateway.name: {"node": gateway.node, "url": gateway.url} for gateway in layout.gateways},
               "urls": {"orders": f"{way_in}/api/orders"}},
        frontend=way_in,
        # every gateway leads to the same frontends: the stock check reads through the first
        shop=Shop(way_in, f"{way_in}/api", way_in),
        get={},
        sampler=sampler,
        environment=lambda: containers.environment(layout.project, next(
            name for name in layout.containers if name.startswith("frontend") and "sidecar" not in name)),
        ways_in={gateway.name: gateway.url for gateway in layout.gateways},
    )


TARGETS = {"local": local_mesh, "containers": container_mesh, "cluster": cluster_mesh}


def earlier(path: Path) -> dict:
    """The orders rows of an earlier run (``--against``), and what the table says of that run."""
    try:
        before = json.loads(path.read_text())
        rows = [row for row in before["orders"] if isinstance(row.get("concurrency"), int)]
        about = {"file": str(path), "date": before["date"], "mode": before.get("mode", "local")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a bench's JSON: {type(err).__name__}: {err}") from None
    return {**about, "tracing": before.get("tracing"), "orders": rows}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:  # read first: a run of minutes must not end on a typo
        against = earlier(args.against) if args.against else None
    except ValueError as err:
        print(f"--against: {err}", file=sys.stderr)
        return 2
    mesh = local.services()
    target = TARGETS[args.mode](mesh)
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
    if len(target.ways_in) > 1:
        say(f"orders' clients spread over {len(target.ways_in)} ways in, by wrk thread in turn: "
            + ", ".join(f"{name} ({url})" for name, url in target.ways_in.items()))
    try:
        result["tracing"] = tracing(target.environment())
    except (OSError, ValueError, StopIteration, containers.DockerError) as err:
        result["tracing"] = {"error": f"{type(err).__name__}: {err}"}
    result["get"] = get_rows(args, target.get, target.shop, target.sampler) if target.get else []
    result["orders"] = order_rows(args, target)
    if against:
        result["against"] = against
    result["took_s"] = round(time.monotonic() - started, 1)

    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2) + "\n"
    # a containers or cluster run keeps its own latest files, beside the local mesh's
    tag = "" if args.mode == "local" else f"-{args.mode}"
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
