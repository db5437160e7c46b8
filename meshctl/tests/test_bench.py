"""make bench's parts that need no mesh: wrk's numbers, the /proc sampler, the table and the chart."""

import os
import subprocess
import sys
from pathlib import Path

from meshctl.bench import report, wrk
from meshctl.bench.procstats import Sampler

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
    assert used["cpu_s"] >= 0.4
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
