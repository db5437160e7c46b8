"""make bench's parts that need no mesh: wrk's numbers, the /proc and cgroup samplers, the cluster's
layout as Compose reads it, the table and the chart."""

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from meshctl import local
from meshctl.bench import cluster, containers, report, run, wrk
from meshctl.bench.containers import MIB
from meshctl.bench.procstats import TICKS_PER_SECOND, Sampler

REPO = Path(__file__).resolve().parents[2]


def test_throughput_counts_2xx_answers_and_errors_count_the_rest():
    numbers = wrk.summary({
        "duration_us": 2_000_000, "requests": 110, "statuses": {"201": 100, "503": 8, "409": 2},
        "socket_errors": {"connect": 0, "read": 1, "write": 0, "timeout": 3},
        "latency_us": {"p50": 1500, "p90": 4000, "p99": 12345, "max": 20000, "mean": 2100.5}})
    assert numbers["rps"] == 50.0 and numbers["ok"] == 100 and numbers["requests"] == 110
    assert numbers["errors"] == 8 + 2 + 1 + 3
    assert numbers["error_statuses"] == {"409": 2, "503": 8}
    assert numbers["socket_errors"] == {"read": 1, "timeout": 3}
    assert numbers["latency_ms"]["p50"] == 1.5 and numbers["latency_ms"]["p99"] == 12.35


def test_sampler_counts_the_whole_process_tree():
    # a parent whose child burns CPU: the parent's pid is all the sampler is given, as with gunicorn.
    # The child idles after burning so that a sample sees its final CPU time however loaded the host.
    child = ("import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
             "time.sleep(0.5)")
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"])
    with Sampler({"tree": parent.pid}, interval=0.05) as sampler:
        parent.wait(timeout=30)
    used = sampler.results(requests=2000)["tree"]
    # the kernel gives utime and stime in whole ticks, each rounded down: the child's 0.4 s of CPU
    # (process_time, to the nanosecond) can read as 0.39 (seen once, on a busy machine)
    assert used["cpu_s"] >= 0.4 - 2 / TICKS_PER_SECOND
    assert used["cpu_s_per_1k"] == round(used["cpu_s"] / 2, 3)
    assert used["peak_rss_mib"] > 1


def _run(rps: float, p50: float, **extra) -> dict:
    return {"requests": int(rps * 10), "ok": int(rps * 10), "rps": rps, "seconds": 10.0,
            "latency_ms": {"p50": p50, "p90": p50 * 2, "p99": p50 * 4, "max": p50 * 9, "mean": p50},
            "statuses": {"200": int(rps * 10)}, "errors": 0, "error_statuses": {}, "socket_errors": {},
            "resources": {"products": {"cpu_s": 1.0, "cpu_s_per_1k": 0.5, "peak_rss_mib": 130.0, "hwm_mib": 140.0}},
            **extra}


RESULT = {
    "date": "2026-11-28 10:00 UTC", "cores": 2, "python": "3.11.7", "wrk": "4.1.0-3+b2", "seconds_per_row": 10,
    "load_average": [0.1, 0.2, 0.3], "services": ["users", "products", "orders", "frontend"],
    "urls": {"direct": "http://127.0.0.1:5003", "mesh": "http://127.0.0.1:8013",
             "orders": "http://127.0.0.1:5001/api/orders"},
    "get": [{"concurrency": 1, "direct": _run(1000, 1.0), "mesh": _run(500, 2.5),
             "mesh_over_direct_rps": 0.5, "added_p50_ms": 1.5},
            {"concurrency": 8, "direct": _run(1200, 4.0), "mesh": {"error": "wrk gave no result (exit 1)"}}],
    "orders": [{"concurrency": 1, **_run(40, 25.0),
                "stock": {"units_taken": 400, "units_in_orders": 400, "orders_confirmed": 400, "ok": True}},
               {"concurrency": 16, **_run(60, 250.0, errors=2, error_statuses={"503": 2}),
                "stock": {"units_taken": 601, "units_in_orders": 600, "orders_confirmed": 600, "ok": False}},
               {"concurrency": 64, "error": "POST http://127.0.0.1:5001/api/users: 503"}],
}


def test_table_shows_every_row_its_failures_and_the_stock_check():
    text = report.table(RESULT)
    assert "0.50x" in text and "+1.50" in text
    assert "row failed: wrk gave no result (exit 1)" in text
    assert "OK" in text and "MISMATCH" in text and "2 (503 x2)" in text
    assert "row failed: POST http://127.0.0.1:5001/api/users: 503" in text
    for label in ("GET direct c=1", "GET mesh c=8", "orders c=64"):
        assert label in text
    assert "0.500" in text and "130" in text  # products' CPU per 1,000 requests and its peak RSS


def test_chart_is_a_png_even_with_failed_rows(tmp_path):
    report.chart(RESULT, tmp_path / "latest.png")
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")


def test_bench_says_plainly_when_the_mesh_is_not_running(tmp_path):
    done = subprocess.run([sys.executable, "-m", "meshctl.bench", "--seconds", "1"], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=os.environ | {"VOLUMES_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "the mesh is not running" in done.stderr and "make up" in done.stderr
    assert not (tmp_path / "bench").exists()


# --containers: the parts that need no Docker


def test_cgroup_paths_read_v1_controllers_and_the_v2_hierarchy():
    paths = containers.cgroup_paths("12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n"
                                    "1:name=systemd:/docker/abc\n0::/system.slice/docker-abc.scope\n")
    assert paths["cpu"] == paths["cpuacct"] == paths["memory"] == "/docker/abc"
    assert paths[""] == "/system.slice/docker-abc.scope"


def _files(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(text)


def test_cgroup_v2_counters_leave_out_inactive_file_cache(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")  # v2 alone, on the root
    _files(tmp_path / "system.slice" / "docker-abc.scope", cpu__stat="usage_usec 2500000\nuser_usec 2000000\n",
           memory__current=str(300 * MIB), memory__peak=str(400 * MIB),
           memory__stat=f"anon {200 * MIB}\nfile {100 * MIB}\ninactive_file {60 * MIB}\n")
    counters = containers.find_counters({"": "/system.slice/docker-abc.scope"}, root=tmp_path)
    assert counters.source == "cgroup files: v2 cpu.stat, v2 memory.current"
    assert containers.read_counters(counters) == (2.5, 240 * MIB, 400 * MIB, 200 * MIB)


def test_cgroup_v1_counters_and_a_hybrid_host_that_has_cpu_in_v2(tmp_path):
    _files(tmp_path / "cpuacct" / "docker" / "abc", cpuacct__usage="1500000000\n")
    _files(tmp_path / "memory" / "docker" / "abc", memory__usage_in_bytes=str(100 * MIB),
           memory__max_usage_in_bytes=str(150 * MIB),
           memory__stat=f"inactive_file 1\ntotal_inactive_file {10 * MIB}\ntotal_rss {70 * MIB}\n")
    paths = containers.cgroup_paths("2:cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/docker/abc\n")
    v1 = containers.find_counters(paths, root=tmp_path)
    assert v1.source == "cgroup files: v1 cpuacct.usage, v1 memory.usage_in_bytes"
    assert containers.read_counters(v1) == (1.5, 90 * MIB, 150 * MIB, 70 * MIB)

    # a hybrid host: v2 beside v1 under unified/, with CPU but without the memory controller
    _files(tmp_path / "unified" / "docker" / "abc", cpu__stat="usage_usec 1600000\n")
    hybrid = containers.find_counters(paths, root=tmp_path)
    assert hybrid.source == "cgroup files: v2 cpu.stat, v1 memory.usage_in_bytes"
    assert containers.read_counters(hybrid).cpu_s == 1.6


def test_no_counters_where_the_files_are_not_there(tmp_path):
    assert containers.find_counters({"": "/docker/abc", "memory": "/docker/abc"}, root=tmp_path) is None
    _files(tmp_path / "unified" / "docker" / "abc", cpu__stat="usage_usec 1\n")  # CPU, but no memory anywhere
    assert containers.find_counters({"": "/docker/abc"}, root=tmp_path) is None


@pytest.mark.parametrize("text, expected", [
    ("0B", 0), ("512KiB", 512 * 1024), ("120.5MiB", round(120.5 * MIB)), ("1.5GiB", round(1.5 * 1024 * MIB)),
    ("12.3MB", 12_300_000), ("2kB", 2000)])
def test_sizes_as_docker_writes_them(text, expected):
    assert containers.size(text) == expected


def test_size_refuses_what_is_not_one():
    with pytest.raises(ValueError):
        containers.size("12 parsecs")


def test_docker_stats_lines_and_its_cpu_as_a_rate_over_time(monkeypatch):
    lines = "abc\t50.00%\t100MiB / 23.5GiB\ndef\t--\t-- / --\n"
    assert containers.parse_stats(lines) == {"abc": (50.0, 100 * MIB)}  # def has no figures: left out
    monkeypatch.setattr(containers, "docker", lambda *args: "abc\t150.00%\t100MiB / 1GiB\n")
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(containers.time, "monotonic", lambda: next(clock))
    stats = containers.DockerStats({"products": "abc"})
    assert stats()["products"].cpu_s == 0  # the first reading is where CPU starts
    assert stats()["products"] == (3.0, 100 * MIB, None, None)  # 1.5 cores for 2 s


def test_container_sampler_reports_cpu_per_1k_and_peak_memory():
    readings = iter([
        {"products": containers.Usage(10.0, 100 * MIB, None, 80 * MIB), "db_products": containers.Usage(1.0, 50 * MIB, None)},
        {"products": containers.Usage(12.0, 140 * MIB, 200 * MIB, 90 * MIB)},  # the database stopped
        {"products": containers.Usage(13.0, 120 * MIB, 200 * MIB, 85 * MIB)},
    ])
    sampler = containers.ContainerSampler(lambda: next(readings, {}), ["products", "db_products", "users"])
    sampler.sample(), sampler.sample(), sampler.sample()
    used = sampler.results(count=1500)
    assert used["products"] == {"cpu_s": 3.0, "cpu_s_per_1k": 2.0, "peak_mib": 140.0, "peak_anon_mib": 90.0,
                                "kernel_peak_mib": 200.0}
    assert used["db_products"]["cpu_s"] == 0 and used["db_products"]["peak_anon_mib"] is None
    assert "users" not in used  # never read: no figures rather than zeros


def test_components_are_apps_and_sidecars_with_their_databases_where_running():
    required, optional = containers.components(["users", "frontend"])
    assert required == ["users", "users-sidecar", "frontend", "frontend-sidecar"]
    assert optional == ["db_users", "db_frontend"]


def _in_containers() -> dict:
    resources = {"products": {"cpu_s": 1.0, "cpu_s_per_1k": 0.25, "peak_mib": 129.6},
                 "products-sidecar": {"cpu_s": 0.5, "cpu_s_per_1k": 0.125, "peak_mib": 59.0}}

    def run(rps: float) -> dict:
        return {**_run(rps, 2.0), "resources": resources}

    return {**RESULT, "mode": "containers", "project": "shopbench",
            "resource_source": "cgroup files: v2 cpu.stat, v1 memory.usage_in_bytes",
            "urls": {"frontend": "http://127.0.0.1:25001/api/products", "orders": "http://127.0.0.1:25001/api/orders"},
            "get": [{"concurrency": 1, "frontend": run(400)}, {"concurrency": 8, "frontend": {"error": "no wrk"}}],
            "orders": [{"concurrency": 1, **run(40),
                        "stock": {"units_taken": 400, "units_in_orders": 400, "orders_confirmed": 400, "ok": True}}]}


def test_table_in_containers_has_one_get_side_and_a_column_per_container(tmp_path):
    text = report.table(_in_containers())
    assert "in containers (Compose project shopbench)" in text
    assert "direct is not reachable in containers" in text and "direct req/s" not in text
    assert "GET frontend c=1" in text and "GET frontend c=8" in text and "row failed: no wrk" in text
    assert "0.250" in text and "0.125" in text and "130" in text and "59" in text
    assert "from cgroup files: v2 cpu.stat, v1 memory.usage_in_bytes" in text
    report.chart(_in_containers(), tmp_path / "latest-containers.png")
    assert (tmp_path / "latest-containers.png").read_bytes().startswith(b"\x89PNG")


def test_bench_in_containers_says_plainly_when_the_frontend_does_not_answer(tmp_path):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "meshctl.bench", "--containers", "--seconds", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env=os.environ | {"VOLUMES_DIR": str(tmp_path), "FRONTEND_PORT": str(port),
                                            "COMPOSE_PROJECT_NAME": "nosuchshop"})
    assert done.returncode == 1
    assert f"the frontend does not answer at http://127.0.0.1:{port}" in done.stderr
    assert "docker compose -p nosuchshop -f services.yml up --build -d" in done.stderr
    assert not (tmp_path / "bench").exists()


# --cluster: cluster.yml as Compose reads it, cut to what the bench reads of it


def _service_on(node: str, **environment: str) -> dict:
    return {"environment": {"CONSUL_HTTP_ADDR": f"https://{node}:8501", **environment}}


def _cluster_config(*gateways: str) -> dict:
    once = {"mesh-init": {"condition": "service_completed_successfully"}}
    services = {
        "mesh-secrets": {"environment": {"MESH_GATEWAYS": "ingress-gateway"}, "network_mode": "none"},
        "mesh-init": {"depends_on": {"mesh-secrets": {"condition": "service_completed_successfully"}}},
        "server-1": {"ports": [{"host_ip": "127.0.0.1", "target": 8501, "published": "38501"}]},
        "node-1": {}, "node-2": {}, "db_users": {}, "db_orders": {}, "jaeger": {},
        "prometheus": {"depends_on": once},
    }
    for service in ("users", "orders"):
        for n in (1, 2):
            pod = {"network_mode": f"service:{service}-{n}-pod"}
            services[f"{service}-{n}-pod"] = {"labels": {"shop.mesh.role": "pod"}}
            services[f"{service}-{n}"] = pod
            services[f"{service}-{n}-sidecar"] = {**_service_on(f"node-{n}", SERVICE=service), **pod,
                                                  "labels": {"shop.mesh.role": "sidecar"}, "depends_on": once}
    for name in gateways:
        n = name.rsplit("-", 1)[1] if name[-1].isdigit() else "1"
        services[name] = {**_service_on(f"node-{n}", SERVICE="ingress-gateway", GATEWAY="ingress"), "depends_on": once,
                          # Envoy's admin published too, before the listener: not a way in
                          "ports": [{"host_ip": "127.0.0.1", "target": 19000, "published": f"3900{n}"},
                                    {"host_ip": "127.0.0.1", "target": 8080, "published": f"3808{n}"}]}
    return {"name": "shopbench", "services": services}


def test_the_cluster_layout_finds_each_gateway_its_node_and_its_listener_on_the_host():
    layout = cluster.layout(_cluster_config("ingress-gateway-2", "ingress-gateway-1"), {8080}, ["users", "orders"])
    assert layout.project == "shopbench"
    assert layout.gateways == (cluster.Gateway("ingress-gateway-1", "node-1", "http://127.0.0.1:38081"),
                               cluster.Gateway("ingress-gateway-2", "node-2", "http://127.0.0.1:38082"))
    # the gateways, each service's instances in the mesh's order (app, then sidecar), then the rest
    # by name; mesh-secrets and mesh-init run once, before the rest
    assert layout.containers == (
        "ingress-gateway-1", "ingress-gateway-2",
        "users-1", "users-1-sidecar", "users-2", "users-2-sidecar",
        "orders-1", "orders-1-sidecar", "orders-2", "orders-2-sidecar",
        "db_orders", "db_users", "jaeger", "node-1", "node-2", "orders-1-pod", "orders-2-pod", "prometheus",
        "server-1", "users-1-pod", "users-2-pod")


def test_the_cluster_layout_takes_a_single_gateway_and_any_address_as_the_loopback():
    config = _cluster_config("ingress-gateway")
    del config["services"]["ingress-gateway"]["ports"][1]["host_ip"]  # published on every address
    layout = cluster.layout(config, {8080}, ["users", "orders"])
    assert layout.gateways == (cluster.Gateway("ingress-gateway", "node-1", "http://127.0.0.1:38081"),)


@pytest.mark.parametrize("gateways, listeners, message", [
    ((), {8080}, "cluster.yml has no ingress gateway"),
    (("ingress-gateway-1",), {9999}, "ingress-gateway-1 publishes none of its listener's ports ([9999])"),
])
def test_the_cluster_layout_says_when_there_is_no_way_in(gateways, listeners, message):
    with pytest.raises(cluster.LayoutError, match=re.escape(message)):
        cluster.layout(_cluster_config(*gateways), listeners, ["users"])


def test_the_cluster_layout_says_when_a_sidecar_has_no_app_of_its_own():
    config = _cluster_config("ingress-gateway-1")
    del config["services"]["users-1"]
    with pytest.raises(cluster.LayoutError, match=re.escape("users-1-sidecar's pod users-1-pod holds 0 apps")):
        cluster.layout(config, {8080}, ["users"])


@pytest.mark.parametrize("connections, ways, shares", [
    (1, 2, [1, 0]), (16, 2, [8, 8]), (64, 2, [32, 32]), (16, 1, [16]), (16, 3, [5, 5, 5]), (2, 3, [1, 1, 0])])
def test_wrk_spreads_the_connections_a_thread_per_way_in(connections, ways, shares):
    assert wrk.spread(connections, ways) == shares


def test_wrk_is_told_the_ways_in_and_takes_a_thread_for_each(monkeypatch):
    calls = []

    def fake_wrk(argv, **kwargs):
        calls.append((argv, kwargs.get("env") or {}))
        line = {"duration_us": 1_000_000, "requests": 1, "statuses": {"201": 1},
                "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0},
                "latency_us": {"p50": 1, "p90": 1, "p99": 1, "max": 1, "mean": 1}}
        return subprocess.CompletedProcess(argv, 0, wrk.MARKER + json.dumps(line) + "\n", "")

    monkeypatch.setattr(wrk.subprocess, "run", fake_wrk)
    wrk.run("http://127.0.0.1:1", 1, 16, ways_in=("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"))
    wrk.run("http://127.0.0.1:1", 1, 16)
    (spread, env), (alone, plain) = calls
    assert "-t3" in spread and env["BENCH_ADDRESSES"] == "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
    assert "-t2" in alone and "BENCH_ADDRESSES" not in plain


def _in_the_cluster() -> dict:
    def used(gateway_cpu: float) -> dict:
        return {"ingress-gateway-1": {"cpu_s": 1.0, "cpu_s_per_1k": gateway_cpu, "peak_mib": 30.0},
                "ingress-gateway-2": {"cpu_s": 1.0, "cpu_s_per_1k": 0.25, "peak_mib": 31.0},
                "users-1": {"cpu_s": 2.0, "cpu_s_per_1k": 1.5, "peak_mib": 120.0}}

    def order_row(concurrency: int, clients: list[int], gateway_cpu: float) -> dict:
        return {"concurrency": concurrency, **_run(50, 30.0), "resources": used(gateway_cpu),
                "clients": dict(zip(("ingress-gateway-1", "ingress-gateway-2"), clients)),
                "stock": {"units_taken": 500, "units_in_orders": 500, "orders_confirmed": 500, "ok": True}}

    return {**RESULT, "mode": "cluster", "project": "shopbench", "get": [],
            "containers": ["ingress-gateway-1", "ingress-gateway-2", "users-1", "users-2"],
            "gateways": {"ingress-gateway-1": {"node": "node-1", "url": "http://127.0.0.1:38080"},
                         "ingress-gateway-2": {"node": "node-2", "url": "http://127.0.0.1:38081"}},
            "resource_source": "cgroup files: v2 cpu.stat, v1 memory.usage_in_bytes",
            "urls": {"orders": "http://127.0.0.1:38080/api/orders"},
            "orders": [order_row(1, [1, 0], 0.5), order_row(16, [8, 8], 0.375),
                       {"concurrency": 64, "error": "wrk gave no result (exit 1)"}]}


def test_table_in_the_cluster_has_orders_only_each_gateways_clients_and_a_line_per_container(tmp_path):
    text = report.table(_in_the_cluster())
    assert "benchmark in the cluster (Compose project shopbench)" in text
    assert "GET" not in text and "direct" not in text
    assert "ingress-gateway-1 on node-1 (http://127.0.0.1:38080), ingress-gateway-2 on node-2" in text
    assert "|   clients |" in text
    lines = text.splitlines()
    assert any(line.startswith("   16 |") and "8+8" in line and "OK" in line for line in lines)
    assert "row failed: wrk gave no result (exit 1)" in text
    # a line per container, a column per orders row; users-2 was never read, orders c=64 never ran
    assert [line.split() for line in lines if line.startswith(("ingress-gateway-1 ", "users-2 ", "all containers"))] == [
        ["ingress-gateway-1", "|", "0.500", "0.375", "-", "|", "30", "30", "-"],
        ["users-2", "|", "-", "-", "-", "|", "-", "-", "-"],
        ["all", "containers", "|", "2.250", "2.125", "-", "|", "181", "181", "-"]]
    report.chart(_in_the_cluster(), tmp_path / "latest-cluster.png")
    assert (tmp_path / "latest-cluster.png").read_bytes().startswith(b"\x89PNG")


def _unused_port() -> int:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_bench_in_the_cluster_says_plainly_when_a_gateway_does_not_answer(monkeypatch, capsys, tmp_path):
    config = _cluster_config("ingress-gateway-1", "ingress-gateway-2")
    port = _unused_port()
    config["services"]["ingress-gateway-2"]["ports"][1]["published"] = str(port)
    monkeypatch.setattr(cluster, "config", lambda: config)
    monkeypatch.setattr(containers, "answers", lambda url: "38081" in url)  # ingress-gateway-1 answers
    assert run.main(["--cluster", "--seconds", "1", "--out", str(tmp_path / "bench")]) == 1
    stderr = capsys.readouterr().err
    assert f"the cluster is not running (ingress-gateway-2 does not answer at http://127.0.0.1:{port})" in stderr
    assert "start it with `docker compose -p shopbench -f cluster.yml up --build -d --wait`" in stderr
    assert not (tmp_path / "bench").exists()


def test_bench_in_the_cluster_says_plainly_what_is_not_running(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cluster, "config", lambda: _cluster_config("ingress-gateway-1", "ingress-gateway-2"))
    monkeypatch.setattr(containers, "answers", lambda url: True)
    layout = cluster.layout(cluster.config(), cluster.listener_ports(), list(local.services()))
    running = {name: f"id-{name}" for name in layout.containers if name not in ("node-2", "users-2-sidecar")}
    monkeypatch.setattr(containers, "running", lambda project: running)
    assert run.main(["--cluster", "--out", str(tmp_path / "bench")]) == 1
    stderr = capsys.readouterr().err
    assert "the cluster is not complete (users-2-sidecar, node-2 not running in project shopbench)" in stderr
    assert "docker compose -p shopbench -f cluster.yml up --build -d --wait" in stderr


def test_bench_in_the_cluster_says_plainly_when_compose_cannot_read_the_file(monkeypatch, capsys, tmp_path):
    def no_docker():
        raise containers.DockerError("docker compose: [Errno 2] No such file or directory: 'docker'")

    monkeypatch.setattr(cluster, "config", no_docker)
    assert run.main(["--cluster", "--out", str(tmp_path / "bench")]) == 1
    assert "cannot tell where the cluster is from cluster.yml: docker compose: [Errno 2]" in capsys.readouterr().err


def test_the_machines_cpu_over_a_row_leaves_out_what_wrk_spent():
    from meshctl.bench.procstats import Machine

    with Machine() as machine:  # a child that works for about 0.3 s of CPU, as wrk would
        subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"],
                       check=True)
    assert machine.wrk_s >= 0.25
    assert machine.total_s >= machine.wrk_s * 0.9  # the machine counted the child too (ticks are coarse)
    found = machine.results(requests=10)
    assert found["wrk_cpu_s"] == round(machine.wrk_s, 2)
    assert found["cpu_ms_per_request"] == round(max(machine.total_s - machine.wrk_s, 0) * 100, 2)


# what the apps traced, and a run beside an earlier one (--against)


@pytest.mark.parametrize("tracing, said", [
    ({"on": True, "sample_ratio": 0.1}, "Tracing: on, TRACE_SAMPLE_RATIO 0.1 (1 in 10 of the traces"),
    ({"on": True, "sample_ratio": 1.0}, "Tracing: on, TRACE_SAMPLE_RATIO 1 (every request traced)."),
    ({"on": True, "sample_ratio": 0.0}, "Tracing: on, TRACE_SAMPLE_RATIO 0 (only the failed or slow requests traced)."),
    ({"on": True, "sample_ratio": 0.3}, "Tracing: on, TRACE_SAMPLE_RATIO 0.3 (30% of the traces"),
    ({"on": False}, "Tracing: off (the apps were started without OTEL_EXPORTER_OTLP_ENDPOINT)"),
    ({"error": "FileNotFoundError: /proc/1/environ"}, "Tracing: not read (FileNotFoundError: /proc/1/environ)"),
])
def test_the_table_says_how_the_apps_traced(tracing, said):
    assert said in report.table(RESULT | {"tracing": tracing})
    assert "Tracing" not in report.table(RESULT)  # a run from before the bench read it


def test_tracing_is_read_from_an_apps_environment():
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert run.tracing({}) == {"on": False}
    assert run.tracing({"TRACE_SAMPLE_RATIO": "0.5"}) == {"on": False}  # exporting nothing, sampling nothing
    assert run.tracing(endpoint) == {"on": True, "sample_ratio": 0.1}  # the apps' default
    assert run.tracing(endpoint | {"TRACE_SAMPLE_RATIO": "0.25"}) == {"on": True, "sample_ratio": 0.25}
    with pytest.raises(ValueError, match="TRACE_SAMPLE_RATIO"):
        run.tracing(endpoint | {"TRACE_SAMPLE_RATIO": "2"})


def test_a_processs_environment_is_read_as_it_was_started():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             env={"TRACE_SAMPLE_RATIO": "0.2", "WITH_EQUALS": "a=b"})
    try:
        environment = run.process_environment(child.pid)
    finally:
        child.communicate(timeout=10)
    assert environment == {"TRACE_SAMPLE_RATIO": "0.2", "WITH_EQUALS": "a=b"}


def _against(tmp_path: Path) -> dict:
    """RESULT's earlier run: orders at c=1 and c=16 (this run's c=64 has no match), another machine CPU."""
    before = json.loads(json.dumps(RESULT))
    before["date"] = "2026-11-27 09:00 UTC"
    before["tracing"] = {"on": True, "sample_ratio": 1.0}
    del before["orders"][2]
    before["orders"][0] |= {"rps": 20.0, "machine": {"cpu_ms_per_request": 30.0}}
    before["orders"][1] |= {"rps": 40.0, "machine": {"cpu_ms_per_request": 20.0}}
    before["orders"][1]["resources"]["products"]["cpu_s_per_1k"] = 1.0
    path = tmp_path / "bench-20261127-090000.json"
    path.write_text(json.dumps(before))
    return run.earlier(path)


def test_the_table_puts_each_orders_row_beside_the_earlier_runs(tmp_path):
    result = json.loads(json.dumps(RESULT))
    result["orders"][0]["machine"] = {"cpu_ms_per_request": 15.0}
    result["orders"][1]["machine"] = {"cpu_ms_per_request": 16.0}
    text = report.table(result | {"against": _against(tmp_path)})
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Against "))
    assert "bench-20261127-090000.json (2026-11-27 09:00 UTC, local, TRACE_SAMPLE_RATIO 1): the orders rows" in lines[start]
    rows = {line.split()[0]: line.split() for line in lines[start + 2:start + 4]}
    # c=1: 20 -> 40 orders/s (2.00x), CPU 30 -> 15 ms (0.50x); c=16: 40 -> 60 (1.50x), 20 -> 16 (0.80x)
    assert rows["1"][2:5] == ["20.0", "40.0", "2.00x"] and rows["1"][-3:] == ["30.0", "15.0", "0.50x"], rows
    assert rows["16"][2:5] == ["40.0", "60.0", "1.50x"] and rows["16"][-3:] == ["20.0", "16.0", "0.80x"], rows
    assert not any(line.split()[:1] == ["64"] for line in lines[start:]), "c=64 has no earlier row"
    # each component at the highest concurrency both ran: products 1.00 -> 0.50 ms per order
    assert "CPU ms per order, each component, at c=16 (then -> now):" in text
    assert "products 1.00 -> 0.50 (0.50x)" in text


def test_the_chart_draws_the_earlier_run_beside_this_one(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn = []  # (label, heights) of every bar series the chart draws
    real = Axes.bar

    def bar(self, x, height, *args, **kwargs):
        drawn.append((kwargs.get("label"), list(height)))
        return real(self, x, height, *args, **kwargs)
    monkeypatch.setattr(Axes, "bar", bar)
    report.chart(RESULT | {"against": _against(tmp_path)}, tmp_path / "latest.png")
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")
    # orders/s, then beside now at c=1, 16 (and c=64, which the earlier run did not have: no bar)
    then = [h for label, h in drawn if label == "then (2026-11-27 09:00 UTC)"]
    now = [h for label, h in drawn if label == "now"]
    assert then[0][:2] == [20.0, 40.0] and math.isnan(then[0][2]), drawn
    assert now[0][:2] == [40, 60], drawn


@pytest.mark.parametrize("content, said", [(None, "No such file"), ("{}", "KeyError"), ("[1]", "TypeError"),
                                           ("not json", "JSONDecodeError")])
def test_bench_refuses_an_earlier_run_it_cannot_read_before_running_anything(tmp_path, content, said):
    path = tmp_path / "before.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "meshctl.bench", "--seconds", "1", "--against", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=60,
                          env=os.environ | {"VOLUMES_DIR": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert f"--against: {path} is not a bench's JSON" in done.stderr and said in done.stderr, done.stderr
    assert "the mesh is not running" not in done.stderr
