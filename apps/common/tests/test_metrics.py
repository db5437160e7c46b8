import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from flask import Flask
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from shopcommon.config import MissingSetting
from shopcommon.metrics import MULTIPROC_ENV, child_exit, clear_multiprocess_dir, on_starting
from shoptesting import demo_service


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    """These tests' apps run in this one process, the way prometheus_client was imported here."""
    if values.ValueClass is not values.MutexValue:
        pytest.skip(f"the test run itself has {MULTIPROC_ENV} set")
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)


def make_app(service: str = "demo") -> Flask:
    return demo_service(service)


def scrape(client) -> dict[tuple[str, tuple], float]:
    """``GET /metrics``, parsed: (sample name, sorted labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_requests_are_counted_by_route_pattern_never_by_path():
    client = make_app().test_client()
    for order_id in (1, 2, 3):
        assert client.get(f"/api/orders/{order_id}").status_code == 200
    samples = scrape(client)
    labels = {"service": "demo", "method": "GET", "route": "/api/orders/<int:order_id>", "status": "200"}
    assert value(samples, "http_requests_total", **labels) == 3
    assert value(samples, "http_request_duration_seconds_count", **labels) == 3
    assert value(samples, "http_request_duration_seconds_bucket", le="+Inf", **labels) == 3
    assert 0 < value(samples, "http_request_duration_seconds_sum", **labels) < 3
    assert not any("/api/orders/1" in str(key) for key in samples)


@pytest.mark.parametrize("method, path, route, status", [
    ("GET", "/nowhere/42", "<unmatched>", "404"),
    ("GET", "/api/orders/x", "<unmatched>", "404"),  # the converter refused it: no rule matched
    ("DELETE", "/api/orders/1", "<unmatched>", "405"),
    ("BREW", "/healthcheck", "<unmatched>", "405"),
    ("GET", "/boom", "/boom", "500"),
    ("GET", "/healthcheck", "/healthcheck", "200"),
])
def test_every_answer_is_counted_with_bounded_labels(method, path, route, status):
    client = make_app().test_client()
    assert client.open(path, method=method).status_code == int(status)
    samples = scrape(client)
    method = method if method != "BREW" else "OTHER"
    assert value(samples, "http_requests_total", service="demo", method=method, route=route, status=status) == 1


def test_scrapes_are_counted_too():
    client = make_app().test_client()
    scrape(client)
    assert value(scrape(client), "http_requests_total", service="demo", method="GET", route="/metrics",
                 status="200") == 1


def test_each_app_counts_its_own_requests():
    first, second = make_app("first").test_client(), make_app("second").test_client()
    first.get("/healthcheck")
    first.get("/healthcheck")
    second.get("/healthcheck")
    assert value(scrape(first), "http_requests_total", service="first", method="GET", route="/healthcheck",
                 status="200") == 2
    seen = scrape(second)
    assert value(seen, "http_requests_total", service="second", method="GET", route="/healthcheck",
                 status="200") == 1
    assert not any(dict(labels).get("service") == "first" for _, labels in seen)


def test_a_multiprocess_folder_set_after_import_stops_the_service(monkeypatch, tmp_path):
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(MissingSetting, match=f"{MULTIPROC_ENV} must be set .* before prometheus_client"):
        make_app()


# what a gunicorn worker does: build the app, answer requests; the last argument scrapes instead
WORKER = """
import sys
from flask import Flask
from shopcommon import init_service

app = Flask("worker")
init_service(app, "demo", {"TESTING": True})
client = app.test_client()
if sys.argv[1] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
else:
    for _ in range(int(sys.argv[1])):
        assert client.get("/healthcheck").status_code == 200
"""


def run_worker(folder, arg: str) -> str:
    # quiet, so stdout holds the scrape and no log lines
    env = {**os.environ, MULTIPROC_ENV: str(folder), "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", WORKER, arg], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def healthchecks(text: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "http_requests_total" and s.labels.get("route") == "/healthcheck":
                return s.value
    return None


def test_workers_add_up_in_multiprocess_mode(tmp_path):
    folder = tmp_path / "metrics"
    assert clear_multiprocess_dir(str(folder)) == folder  # made when missing
    run_worker(folder, "3")
    run_worker(folder, "4")
    # whichever worker answers the scrape reports every worker's requests, dead ones' included
    assert healthchecks(run_worker(folder, "scrape")) == 7
    clear_multiprocess_dir(str(folder))
    assert healthchecks(run_worker(folder, "scrape")) is None


def test_clearing_removes_only_prometheus_files(monkeypatch, tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "histogram_123.db").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not ours")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    on_starting(server=None)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_clearing_without_a_folder_does_nothing(monkeypatch):
    assert clear_multiprocess_dir() is None
    on_starting(server=None)


def test_a_dead_worker_keeps_its_counts_and_loses_its_live_gauges(monkeypatch, tmp_path):
    for name in ("counter_41.db", "histogram_41.db", "gauge_livesum_41.db", "gauge_livesum_42.db"):
        (tmp_path / name).write_bytes(b"x")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    child_exit(server=None, worker=SimpleNamespace(pid=41))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_41.db", "gauge_livesum_42.db",
                                                          "histogram_41.db"]


def test_a_dead_worker_without_a_folder_is_nothing_to_do(tmp_path):
    child_exit(server=None, worker=SimpleNamespace(pid=41))
