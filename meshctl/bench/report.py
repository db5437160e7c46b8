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


def cluster(result: dict) -> bool:
    return result.get("mode") == "cluster"


# what the title says of where the mesh ran, by mode
WHERE = {"local": "", "containers": " in containers", "cluster": " in the cluster"}


def get_sides(result: dict) -> tuple[str, ...]:
    """The GET rows' sides: direct and through the mesh; in containers, where no app but the
    frontend is reachable, through the frontend only; in the cluster none (no GET rows)."""
    if cluster(result):
        return ()
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


def _tracing_line(result: dict) -> list[str]:
    """What the apps traced during the run (a run from before the bench read it says nothing)."""
    said = result.get("tracing")
    if said is None:
        return []
    if "error" in said:
        return [f"Tracing: not read ({said['error']})."]
    if not said["on"]:
        return ["Tracing: off (the apps were started without OTEL_EXPORTER_OTLP_ENDPOINT)."]
    ratio = said["sample_ratio"]
    if ratio >= 1:
        share = "every request traced"
    elif ratio <= 0:
        share = "only the failed or slow requests traced"
    else:
        whole = abs(1 / ratio - round(1 / ratio)) < 0.01
        share = (f"{f'1 in {round(1 / ratio)}' if whole else f'{ratio:.0%}'} of the traces a request starts "
                 "sampled; every failed or slow request kept")
    return [f"Tracing: on, TRACE_SAMPLE_RATIO {ratio:g} ({share})."]


def _ratio(now: float | None, then: float | None) -> str:
    return f"{now / then:.2f}x" if now is not None and then else "-"


def _figure(row: dict | None, *path: str) -> float | None:
    value = _value(row or {}, *path)
    return None if isinstance(value, float) and math.isnan(value) else value


def _fmt(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _against_lines(result: dict) -> list[str]:
    """This run's orders rows beside an earlier run's (``--against``) at the same concurrency: then,
    now and their ratio; and, at the highest concurrency both have, each component's CPU per order."""
    against = result.get("against")
    if not against:
        return []
    then_rows = {row["concurrency"]: row for row in against["orders"]}
    traced = against.get("tracing") or {}
    tracing = ("" if not traced or "error" in traced else
               f", TRACE_SAMPLE_RATIO {traced['sample_ratio']:g}" if traced["on"] else ", tracing off")
    lines = ["", f"Against {against['file']} ({against['date']}, {against['mode']}{tracing}): the orders rows at "
             "the same concurrency",
             f"{'conc':>5} | {'orders/s then':>13} {'now':>7} {'ratio':>6} | {'p99 ms then':>11} {'now':>7} "
             f"| {'CPU ms then':>11} {'now':>6} {'ratio':>6}"]
    both = []
    for row in result["orders"]:
        then = then_rows.get(row["concurrency"])
        if then is None:
            continue
        both.append((row, then))
        rps = (_figure(then, "rps"), _figure(row, "rps"))
        p99 = (_figure(then, "latency_ms", "p99"), _figure(row, "latency_ms", "p99"))
        cpu = (_figure(then, "machine", "cpu_ms_per_request"), _figure(row, "machine", "cpu_ms_per_request"))
        lines.append(f"{row['concurrency']:>5} | {_fmt(rps[0], '{:.1f}'):>13} {_fmt(rps[1], '{:.1f}'):>7} "
                     f"{_ratio(rps[1], rps[0]):>6} | {_fmt(p99[0], '{:.0f}'):>11} {_fmt(p99[1], '{:.0f}'):>7} "
                     f"| {_fmt(cpu[0], '{:.1f}'):>11} {_fmt(cpu[1], '{:.1f}'):>6} {_ratio(cpu[1], cpu[0]):>6}")
    if not both:
        return lines + ["(no orders row at a concurrency both runs have)"]
    row, then = max(both, key=lambda pair: pair[0]["concurrency"])
    used, used_then = row.get("resources") or {}, then.get("resources") or {}
    changes = [f"{name} {_fmt(used_then[name].get('cpu_s_per_1k'), '{:.2f}')} -> "
               f"{_fmt(figures.get('cpu_s_per_1k'), '{:.2f}')} "
               f"({_ratio(figures.get('cpu_s_per_1k'), used_then[name].get('cpu_s_per_1k'))})"
               for name, figures in used.items() if name in used_then]
    if changes:
        lines.append(f"CPU ms per order, each component, at c={row['concurrency']} (then -> now):")
        lines += [f"  {line}" for line in _wrapped(changes, 100)]
    return lines


def _wrapped(parts: list[str], width: int) -> list[str]:
    """``parts`` joined by ", " into lines of at most ``width`` characters (a part is never split)."""
    lines, line = [], ""
    for part in parts:
        if line and len(line) + 2 + len(part) > width:
            lines.append(line + ",")
            line = part
        else:
            line = f"{line}, {part}" if line else part
    return lines + ([line] if line else [])


def _order_lines(result: dict) -> list[str]:
    """The orders rows, with the stock check; in the cluster, with how many clients took each gateway."""
    if cluster(result):
        ways_in = ", ".join(f"{name} on {gateway['node']} ({gateway['url']})"
                            for name, gateway in result["gateways"].items())
        lines = ["Orders placed end to end through the ingress: POST /api/orders (gateway -> frontend -> orders",
                 "-> users, products; each an instance on either node), 1 unit each, spread over fresh products;",
                 "a fresh user per row. The clients take the gateways in turn, a wrk thread each (clients: how",
                 f"many went to each): {ways_in}"]
    else:
        lines = [f"Orders placed end to end: POST {result['urls']['orders']} (frontend -> orders -> users, products),",
                 "1 unit each, spread over fresh products; a fresh user per row"]

    def clients(text: str) -> str:
        """The cluster's column of each gateway's clients."""
        return f"| {text:>9} " if cluster(result) else ""

    lines.append(f"{'conc':>5} | {'orders/s':>8} {'p50':>8} {'p99':>8} | {'units taken':>11}  {'units in orders':>15}  "
                 f"{'stock':>8} {clients('clients')}| {'CPU ms':>6} | errors")
    for row in result["orders"]:
        stock = row.get("stock") or {}
        check = "OK" if stock.get("ok") else "MISMATCH" if "units_taken" in stock else "-"
        failed = f"; stock check failed: {stock['error']}" if "error" in stock else ""
        machine = (row.get("machine") or {}).get("cpu_ms_per_request")
        lines.append(f"{row['concurrency']:>5} | {_rps(row):>8} {_ms(row, 'p50'):>8} {_ms(row, 'p99'):>8} "
                     f"| {stock.get('units_taken', '-'):>11}  {stock.get('units_in_orders', '-'):>15}  {check:>8} "
                     f"{clients('+'.join(map(str, row.get('clients', {}).values())) or '-')}"
                     f"| {'-' if machine is None else f'{machine:.1f}':>6} | {_errors(row)}{failed}")
    lines.append("CPU ms: the whole machine's CPU time over the row (every process: the mesh, Consul, Prometheus,")
    lines.append("Jaeger), less wrk's own, per order")
    return lines


ALL = "all containers"


def _sums(used: dict) -> dict:
    """Every container's CPU per 1,000 and peak memory added up; each container's peak is its own
    moment's, so their sum is an upper bound of the cluster's."""
    sums = {}
    for key in ("cpu_s_per_1k", "peak_mib"):
        values = [figures[key] for figures in used.values() if figures.get(key) is not None]
        sums[key] = sum(values) if values else None
    return sums


def _container_lines(result: dict) -> list[str]:
    """The cluster's CPU and memory: too many containers for a column each, so a line per container
    (and one of their sums) and a column per orders row."""
    rows = []
    for row in result["orders"]:
        used = row.get("resources") or {}
        rows.append((f"c={row['concurrency']}", used | {ALL: _sums(used)}))
    width = max(len(name) for name in [*result["containers"], ALL])
    span = 9 * len(rows)
    labels = "".join(f"{label:>9}" for label, _ in rows)
    lines = ["", f"CPU and memory per container, from {result['resource_source']}",
             "(peak memory: the highest sampled cgroup usage less inactive file cache, as docker stats counts it;",
             f"{ALL!r} adds up each container's own peak, an upper bound)",
             f"{'':<{width}} | {'CPU s per 1,000 orders':>{span}} | {'peak MiB':>{span}}",
             f"{'container':<{width}} | {labels} | {labels}"]
    for name in [*result["containers"], ALL]:
        cpu = "".join(f"{_cell(used, name, 'cpu_s_per_1k', '{:.3f}'):>9}" for _, used in rows)
        memory = "".join(f"{_cell(used, name, 'peak_mib', '{:.0f}'):>9}" for _, used in rows)
        lines.append(f"{name:<{width}} | {cpu} | {memory}")
    return lines


def table(result: dict) -> str:
    load = " ".join(f"{x:.2f}" for x in result["load_average"])
    where = WHERE[result.get("mode", "local")]
    if "project" in result:
        where += f" (Compose project {result['project']})"
    lines = [
        f"Shop mesh benchmark{where}, {result['date']}: {result['cores']} cores, Python {result['python']}, "
        f"wrk {result['wrk']}, {result['seconds_per_row']} s per row",
        f"Load average before: {load}; wrk runs on the same cores as the mesh.",
        "req/s and orders/s count 2xx answers; latencies in ms (wrk's, corrected for coordinated omission).",
        *_tracing_line(result),
        "",
    ]
    if result["get"]:
        lines += [*_get_lines(result), ""]
    lines += _order_lines(result) + _against_lines(result)
    if cluster(result):
        return "\n".join(line.rstrip() for line in lines + _container_lines(result))

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
    """Throughput (top) and p99 latency (bottom): GET direct against mesh, and orders per concurrency;
    in the cluster, orders and where their CPU goes, container by container."""
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window: runs where no display is
    import matplotlib.pyplot as plt

    orders = result["orders"]
    mosaic = ([["orders", "cpu"], ["orders p99", "cpu"]] if cluster(result)
              else [["get", "orders"], ["get p99", "orders p99"]])
    fig, axes = plt.subplot_mosaic(mosaic, figsize=(11, 7.5))
    if cluster(result):
        _cpu_chart(result, axes["cpu"])
    else:
        _get_charts(result, axes["get"], axes["get p99"])
    placed = f"Orders placed per second{' through the ingress' if cluster(result) else ''}, end to end"
    spots = range(len(orders))
    # with --against, the earlier run's row at the same concurrency beside each: before and after
    against = result.get("against")
    then = {row["concurrency"]: row for row in against["orders"]} if against else {}
    sides = ([(f"then ({against['date']})", [then.get(row["concurrency"], {}) for row in orders], "tab:gray"),
              ("now", orders, "tab:green")] if against else [(None, orders, "tab:green")])
    bar = 0.8 / len(sides) if against else 0.5
    for ax, measure, unit, title in ((axes["orders"], ("rps",), "orders/s", placed),
                                     (axes["orders p99"], ("latency_ms", "p99"), "p99 ms", "Orders: p99 latency")):
        for n, (label, rows, colour) in enumerate(sides):
            offset = (n - (len(sides) - 1) / 2) * bar
            bars = ax.bar([i + offset for i in spots], [_value(row, *measure) for row in rows], bar, color=colour,
                          label=label)
            ax.bar_label(bars, fmt="%.1f" if unit == "orders/s" else "%.0f", fontsize=8)
        ax.set_xticks(list(spots), [f"c={row['concurrency']}" for row in orders])
        ax.set_ylabel(unit)
        ax.set_title(title)
        if against:
            ax.legend()
    fig.suptitle(f"Shop mesh benchmark{WHERE[result.get('mode', 'local')]}, {result['date']}: {result['cores']} cores, "
                 f"wrk {result['wrk']}, {result['seconds_per_row']} s per row")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _cpu_chart(result: dict, ax) -> None:
    """CPU seconds per 1,000 orders, a line per container (top down, as in the table), a bar per orders row."""
    names, orders = result["containers"], result["orders"]
    bar = 0.8 / max(len(orders), 1)
    for n, row in enumerate(orders):
        used = row.get("resources") or {}
        ax.barh([i + (n - (len(orders) - 1) / 2) * bar for i in range(len(names))],
                [_value(used.get(name) or {}, "cpu_s_per_1k") for name in names], bar, label=f"c={row['concurrency']}")
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("CPU seconds per 1,000 orders")
    ax.set_title("Where an order's CPU goes, per container")
    ax.legend()


def _get_charts(result: dict, throughput, latency) -> None:
    """The GET rows' two charts, a bar per side: direct against mesh, or through the frontend."""
    get = result["get"]
    spots = range(len(get))
    sides = get_sides(result)
    bar = 0.8 / len(sides)
    for ax, measure, unit in ((throughput, ("rps",), "requests/s"), (latency, ("latency_ms", "p99"), "p99 ms")):
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
    throughput.set_title(f"GET {url}: {what}")
    latency.set_title(f"GET {url}: p99 latency")
