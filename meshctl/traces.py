"""Jaeger in local mode: the trace store every Envoy and every app sends spans to, started by `make up`
once the mesh runs, like Prometheus (``meshctl.metrics``): built in the background when missing.

    where                 what
    127.0.0.1:4317, 4318  OTLP in (gRPC: the Envoys; HTTP: the apps)
    127.0.0.1:16686       Jaeger's query API (``/api/traces/<id>``, ``/api/traces?service=…``); the
                          Go module has no web UI, the frontend draws a trace itself
    127.0.0.1:13133       its health (``/status``)

Traces are kept in memory (at most 10,000; consul-config/observability/jaeger.yaml) and go when it stops.

Each sidecar's Envoy traces with OpenTelemetry (W3C ``traceparent``), continuing the trace its app's
request carries and passing it on: ``envoy_config`` is what `make up` adds to each sidecar's proxy
config when it registers it, a tracing provider on its listeners and a static cluster for the
collector.
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path

from meshctl.companion import Companion

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("JAEGER_BIN", REPO / ".cache" / "jaeger" / "jaeger"))
CONFIG = REPO / "consul-config" / "observability" / "jaeger.yaml"
QUERY_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, HEALTH_PORT = 16686, 4317, 4318, 13133
QUERY = f"http://127.0.0.1:{QUERY_PORT}"
OTLP_HTTP = f"http://127.0.0.1:{OTLP_HTTP_PORT}"
PORTS = (QUERY_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT, HEALTH_PORT, 16685, 8888)
COLLECTOR_CLUSTER = "otel_collector"
# the share of traces sampled where one starts (an app's or an Envoy's first span): the apps' own
# setting and default (shopcommon.tracing.RATIO_ENV, DEFAULT_RATIO), read from the same environment
SAMPLE_RATIO_ENV, DEFAULT_SAMPLE_RATIO = "TRACE_SAMPLE_RATIO", 0.1
# where an app sends its spans; without it the app traces nothing (shopcommon.tracing.ENDPOINT_ENV)
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVER = Companion("jaeger", BIN, REPO / "meshctl" / "build-jaeger.sh", f"http://127.0.0.1:{HEALTH_PORT}/status",
                   "traces-up")
ready = SERVER.ready


def argv() -> list[str]:
    return [str(BIN), "--config", str(CONFIG)]


def sample_ratio(environ: Mapping[str, str] = os.environ) -> float:
    """``$TRACE_SAMPLE_RATIO`` (of ``environ``: this process's, or an app's), else the default; a
    value that is no share of 1 is refused."""
    text = environ.get(SAMPLE_RATIO_ENV, "").strip()
    try:
        ratio = float(text) if text else DEFAULT_SAMPLE_RATIO
    except ValueError:
        raise ValueError(f"{SAMPLE_RATIO_ENV} must be a number between 0 and 1, not {text!r}") from None
    if not 0 <= ratio <= 1:
        raise ValueError(f"{SAMPLE_RATIO_ENV} must be between 0 and 1, not {ratio}")
    return ratio


def envoy_config(sidecar: str, host: str = "127.0.0.1", port: int = OTLP_GRPC_PORT,
                 ratio: float | None = None) -> dict[str, str]:
    """A sidecar's proxy config for tracing, exported over OTLP/gRPC to the collector at
    ``host``:``port``. A request that carries a ``traceparent`` keeps its sampling decision; one
    that starts its trace at this Envoy (the frontend's, behind an ingress gateway) is sampled at
    ``ratio`` (``sample_ratio()``), as an app samples the traces it starts."""
    ratio = sample_ratio() if ratio is None else ratio
    tracing = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                 ".HttpConnectionManager.Tracing",
        "random_sampling": {"value": round(ratio * 100, 4)},
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": COLLECTOR_CLUSTER}, "timeout": "1s"},
                "service_name": sidecar,
            },
        },
    }
    cluster = {
        "name": COLLECTOR_CLUSTER,
        # an address as it is (local mode), a name through DNS (a container's: jaeger)
        "type": "STATIC" if host.replace(".", "").isdigit() else "STRICT_DNS",
        "dns_lookup_family": "V4_ONLY",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            },
        },
        "load_assignment": {
            "cluster_name": COLLECTOR_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": host, "port_value": port}}}}]}],
        },
    }
    return {"envoy_listener_tracing_json": json.dumps(tracing), "envoy_extra_static_clusters_json": json.dumps(cluster)}
