"""Request metrics: ``GET /metrics`` in Prometheus' text format, for every service.

Two families, each labelled ``service``, ``method``, ``route`` and ``status``:

- ``http_requests_total``: requests answered;
- ``http_request_duration_seconds``: how long the app took to answer them (a histogram).

``route`` is the Flask rule that matched (``/api/orders/<int:order_id>``), never the raw path, so
ids cannot add a series each; requests no rule matched (404s, 405s) share ``<unmatched>``, and
methods outside the standard ones share ``OTHER``, for the same reason. ``/metrics`` and
``/healthcheck`` are counted like the rest: recording a request costs a dictionary lookup, an
increment and a histogram observation.

Each app has its own ``CollectorRegistry``: tests build many apps in one process, and the global
registry would refuse the second app's metrics.

**Several gunicorn workers.** Each worker is a process with its own counts, and a scrape reaches
whichever worker gunicorn hands it to. Set ``PROMETHEUS_MULTIPROC_DIR`` to a folder only this
service uses, in gunicorn's environment (prometheus_client reads it when it is first imported, so
it must be set before the process starts, not from Python). Every worker then writes its values
to files there, and ``/metrics``, in any worker, adds up all of them. The gunicorn master has two
jobs, both as gunicorn server hooks in its config file::

    from shopcommon.metrics import child_exit, on_starting  # noqa: F401  (gunicorn's hook names)

``on_starting`` empties the folder (a previous run's values would otherwise be added to this
one's); ``child_exit`` tells prometheus_client a worker is gone. A dead worker's counters stay in
the folder on purpose: totals never go backwards when gunicorn replaces a worker.
"""

import os
import time
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess, values

from shopcommon.config import MissingSetting

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LABELS = ("service", "method", "route", "status")

bp = Blueprint("metrics", __name__)


class RequestMetrics:
    """One app's request counter and latency histogram, and the registry ``/metrics`` shows."""

    def __init__(self, service: str, multiproc_dir: str | None = None):
        self.service = service
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "Requests answered.", LABELS, registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "Time the app took to answer a request.",
                                 LABELS, registry=self.registry)
        if multiproc_dir:
            # every worker's files, added up; this registry is read at each scrape, never written
            self.exposed = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.exposed, path=multiproc_dir)
        else:
            self.exposed = self.registry
        # (method, route, status) -> the two labelled children: .labels() validates and locks on
        # every call, a dict lookup does not; the keys are bounded as the labels are
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe(self, method: str, route: str, status: int, seconds: float | None) -> None:
        """Count one answered request, and its duration when it is known."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            labels = (self.service, method, route, str(status))
            children = self._children.setdefault(key, (self.requests.labels(*labels),
                                                        self.latency.labels(*labels)))
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def render(self) -> bytes:
        """Everything in the Prometheus text format."""
        return generate_latest(self.exposed)


def multiproc_dir() -> str | None:
    """The multiprocess folder, checked; None in single-process mode."""
    path = os.environ.get(MULTIPROC_ENV, "").strip() or None
    multiprocess_at_import = values.ValueClass is not values.MutexValue
    if bool(path) != multiprocess_at_import:
        # metrics would live in memory while /metrics reads files, or the other way round: all zeros
        raise MissingSetting(
            f"{MULTIPROC_ENV} must be set (or unset) before prometheus_client is first imported; it is "
            f"{'set' if path else 'unset'} now and was {'set' if multiprocess_at_import else 'unset'} then")
    if path and not Path(path).is_dir():
        raise MissingSetting(f"{MULTIPROC_ENV} {path} is not a folder")
    return path


def init_metrics(app: Flask, service: str) -> None:
    """Record every request of ``app`` and serve ``GET /metrics``.

    Call it before other ``before_request`` hooks are added, so the clock starts first.
    """
    metrics = RequestMetrics(service, multiproc_dir())
    app.extensions["shop.metrics"] = metrics
    clock = time.perf_counter

    @app.before_request
    def start_clock():
        g.metrics_started = clock()

    @app.after_request
    def record_request(response):
        started = g.get("metrics_started")
        rule = request.url_rule
        method = request.method
        metrics.observe(method if method in METHODS else "OTHER", rule.rule if rule is not None else UNMATCHED,
                        response.status_code, None if started is None else clock() - started)
        return response

    app.register_blueprint(bp)


@bp.get("/metrics")
def metrics_page():
    return Response(current_app.extensions["shop.metrics"].render(), content_type=CONTENT_TYPE_LATEST)


def clear_multiprocess_dir(path: str | None = None) -> Path | None:
    """Empty the multiprocess folder (``PROMETHEUS_MULTIPROC_DIR`` unless ``path``), creating it if
    missing; None when there is none. Only prometheus_client's ``*.db`` files go: a folder named by
    mistake keeps everything else."""
    path = path or os.environ.get(MULTIPROC_ENV, "").strip()
    if not path:
        return None
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def on_starting(server) -> None:
    """gunicorn's master, before any worker starts: begin from an empty multiprocess folder."""
    clear_multiprocess_dir()


def child_exit(server, worker) -> None:
    """gunicorn's master, after a worker exited: drop that worker's live values."""
    path = os.environ.get(MULTIPROC_ENV, "").strip()
    if path:
        multiprocess.mark_process_dead(worker.pid, path)
