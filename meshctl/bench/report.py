"""The bench's result as a text table, and as a chart (matplotlib, no display needed)."""

import math
from pathlib import Path


def _ms(run: dict, name: str) -> str:
    return f"{run['latency_ms'][name]:.2f}" if "latency_ms" in run else "-"


def _rps(run: dict) -> str:
    return f"{run['rps']:.1f}" if "rps" in run else "failed"


def _errors(run: dict) -> str:
    """``0``, or the count and what they were: ``3 (503 x2, timeout x1)``."""
    if "error" in run:
        return "row failed: " + run["error"]
    kinds = {**run["error_statuses"], **run["socket_errors"]}
    detail = ", ".join(f"{kind} x{n}" for kind, n in kinds.items())
    return f"{run['errors']} ({detail})" if detail else "0"


def _cell(used: dict, component: str, key: str, fmt: str) -> str:
    value = (used.get(component) or {}).get(key)
    return "-" if value is None else fmt.format(value)


def containers(result: dict) -> bool:
    return result.get("mode") == "containers"


def get_sides(result: dict) -> tuple[str, ...]:
    """The GET rows' sides: direct and through the mesh; in containers, where no app but the
    frontend is reachable, through the frontend only."""
    return ("frontend",) if containers(result) else ("direct", "mesh")


def _measured(result: dict) -> list[tuple[str, dict]]:
    """Every wrk run of the bench, labelled as in the table."""
    runs = []
    for row in result["get"]:
        runs += [(f"GET {side} c={row['concurrency']}", row[side]) for side in get_sides(result)]
    runs += [(f"orders c={row['concurrency']}", row) for row in result["orders"]]
    return runs


def _get_lines(result: dict) -> list[str]:
    """The GET rows: direct against the mesh, or in containers through the frontend alone."""
    urls = result["urls"]
    if containers(result):
        lines = [f"GET /api/products/<id> through the frontend ({urls['frontend']}): the frontend's app -> its Envoy",
                 "-> mTLS -> products' Envoy -> products; direct is not reachable in containers (apps listen on",
                 "their own loopback)",
                 f"{'conc':>5} | {'req/s':>10} {'p50':>7} {'p99':>7} | errors"]
        for row in result["get"]:
            run = row["frontend"]
            lines.append(f"{row['concurrency']:>5} | {_rps(run):>10} {_ms(run, 'p50'):>7} {_ms(run, 'p99'):>7} "
                         f"| {_errors(run)}")
        return lines
    lines = [
        f"GET /products/<id>: direct = products' app ({urls['direct']});",
        f"mesh = the frontend's Envoy ({urls['mesh']}) -> mTLS -> products' Envoy -> products",
        f"{'conc':>5} | {'direct req/s':>12} {'p50':>7} {'p99':>7} | {'mesh req/s':>10} {'p50':>7} {'p99':>7} "
        f"| {'mesh/direct':>11} {'+p50 ms':>8} | errors direct, mesh",
    ]
    for row in result["get"]:
        direct, mesh = row["direct"], row["mesh"]
        ratio = f"{row['mesh_over_direct_rps']:.2f}x" if row.get("mesh_over_direct_rps") is not None else "-"
        added = f"{row['added_p50_ms']:+.2f}" if row.get("added_p50_ms") is not None else "-"
        lines.append(f"{row['concurrency']:>5} | {_rps(direct):>12} {_ms(direct, 'p50'):>7} {_ms(direct, 'p99'):>7} "
                     f"| {_rps(mesh):>10} {_ms(mesh, 'p50'):>7} {_ms(mesh, 'p99'):>7} "
                     f"| {ratio:>11} {added:>8} | {_errors(direct)}, {_errors(mesh)}")
    return lines


def table(result: dict) -> str:
    urls = result["urls"]
    load = " ".join(f"{x:.2f}" for x in result["load_average"])
    where = f" in containers (Compose project {result['project']})" if containers(result) else ""
    lines = [
        f"Shop mesh benchmark{where}, {result['date']}: {result['cores']} cores, Python {result['python']}, "
        f"wrk {result['wrk']}, {result['seconds_per_row']} s per row",
        f"Load average before: {load}; wrk runs on the same cores as the mesh.",
        "req/s and orders/s count 2xx answers; latencies in ms (wrk's, corrected for coordinated omission).",
        "",
        *_get_lines(result),
        "",
        f"Orders placed end to end: POST {urls['orders']} (frontend -> orders -> users, products),",
        "1 unit each, spread over fresh products; a fresh user per row",
        f"{'conc':>5} | {'orders/s':>8} {'p50':>8} {'p99':>8} | {'units taken':>11}  {'units in orders':>15}  {'stock':>8} "
        "| errors",
    ]
    for row in result["orders"]:
        stock = row.get("stock") or {}
        check = "OK" if stock.get("ok") else "MISMATCH" if "units_taken" in stock else "-"
        lines.append(f"{row['concurrency']:>5} | {_rps(row):>8} {_ms(row, 'p50'):>8} {_ms(row, 'p99'):>8} "
                     f"| {stock.get('units_taken', '-'):>11}  {stock.get('units_in_orders', '-'):>15}  {check:>8} "
                     f"| {_errors(row)}" + (f"; stock check failed: {stock['error']}" if "error" in stock else ""))

    runs = _measured(result)
    width = max(len(label) for label, _ in runs)
    # each service's app (gunicorn master + workers) and its Envoy, in the order the mesh starts them;
    # in containers, each app's container and its sidecar's
    sidecar = "-sidecar" if containers(result) else "-sidecar-proxy"
    components = [name for service in result["services"] for name in (service, f"{service}{sidecar}")]
    groups = "".join(f"{service:^18}" for service in result["services"])
    titles = "".join(f"{'app':>8} {'Envoy':>8} " for _ in result["services"])
    if containers(result):
        memory = ("Peak memory in MiB (highest sampled cgroup usage less inactive file cache, as docker stats "
                  "counts it)", "peak_mib")
        lines += ["", f"CPU and memory per container, from {result['resource_source']}"]
    else:
        memory = ("Peak RSS in MiB (highest sampled sum over the process tree)", "peak_rss_mib")
    for heading, key, fmt in (("CPU seconds per 1,000 requests", "cpu_s_per_1k", "{:.3f}"), (*memory, "{:.0f}")):
        lines += ["", heading, f"{'':<{width}} {groups}", f"{'row':<{width}} {titles}"]
        for label, run in runs:
            used = run.get("resources") or {}
            cells = "".join(f"{_cell(used, name, key, fmt):>8} " for name in components)
            lines.append(f"{label:<{width}} {cells}")
    return "\n".join(line.rstrip() for line in lines)


def _value(run: dict, *path: str) -> float:
    for key in path:
        if not isinstance(run, dict) or key not in run:
            return math.nan  # a row that failed: no bar
        run = run[key]
    return run


def chart(result: dict, path: Path) -> None:
    """Throughput (top) and p99 latency (bottom): GET direct against mesh, and orders per concurrency."""
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window: runs where no display is
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    get, orders = result["get"], result["orders"]
    spots = range(len(get))
    sides = get_sides(result)
    bar = 0.8 / len(sides)
    for ax, measure, unit in ((axes[0][0], ("rps",), "requests/s"), (axes[1][0], ("latency_ms", "p99"), "p99 ms")):
        for n, (side, colour) in enumerate(zip(sides, ("tab:blue", "tab:orange"))):
            offset = (n - (len(sides) - 1) / 2) * bar
            bars = ax.bar([i + offset for i in spots], [_value(row[side], *measure) for row in get], bar,
                          label=side, color=colour)
            ax.bar_label(bars, fmt="%.0f" if unit == "requests/s" else "%.1f", fontsize=8)
        ax.set_xticks(list(spots), [f"c={row['concurrency']}" for row in get])
        ax.set_ylabel(unit)
        ax.legend()
    url, what = (("/api/products/<id>", "through the frontend") if containers(result)
                 else ("/products/<id>", "direct vs through the mesh"))
    axes[0][0].set_title(f"GET {url}: {what}")
    axes[1][0].set_title(f"GET {url}: p99 latency")

    spots = range(len(orders))
    for ax, measure, unit, title in ((axes[0][1], ("rps",), "orders/s", "Orders placed per second, end to end"),
                                     (axes[1][1], ("latency_ms", "p99"), "p99 ms", "Orders: p99 latency")):
        bars = ax.bar(list(spots), [_value(row, *measure) for row in orders], 0.5, color="tab:green")
        ax.bar_label(bars, fmt="%.1f" if unit == "orders/s" else "%.0f", fontsize=8)
        ax.set_xticks(list(spots), [f"c={row['concurrency']}" for row in orders])
        ax.set_ylabel(unit)
        ax.set_title(title)
    where = " in containers" if containers(result) else ""
    fig.suptitle(f"Shop mesh benchmark{where}, {result['date']}: {result['cores']} cores, wrk {result['wrk']}, "
                 f"{result['seconds_per_row']} s per row")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
