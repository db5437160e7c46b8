"""Prometheus in local mode: started by `make up` once the mesh runs, scraping every app's /metrics
and every sidecar's Envoy, both found in Consul's catalogue (``consul_sd_configs``).

Prometheus is built from the Go module proxy (meshctl/build-prometheus.sh, several minutes cold),
and the shop must not wait for that: when its binary is missing, `make up` starts the build in the
background and says so, and the build starts Prometheus when it is done (``python -m meshctl
metrics-up``). `make status` tells where it stands.

    where                          what
    127.0.0.1:9090                 Prometheus' HTTP API (its web UI is not in the Go module)
    volumes/prometheus/            its config (prometheus.yml) and data: 1 day, at most 256 MB
    volumes/secrets/acl/prometheus.token   its Consul token: read the catalogue, nothing else

Targets, as Consul lists them (through the Consul gate on 127.0.0.1:8500, which forwards the token):
an app is a service with ``meta.wsgi_app``, scraped at its own address and port; its Envoy is
scraped at the same address on ``meta.envoy_metrics_port``, where Consul has the sidecar's Envoy
serve its stats (``proxy.config.envoy_prometheus_bind_addr``).
"""

import os
from pathlib import Path

from meshctl.companion import Companion

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("PROMETHEUS_BIN", REPO / ".cache" / "prometheus" / "prometheus"))
PORT = 9090
ADDRESS = f"127.0.0.1:{PORT}"
SCRAPE_INTERVAL = "5s"
RETENTION = ("1d", "256MB")
SERVER = Companion("prometheus", BIN, REPO / "meshctl" / "build-prometheus.sh", f"http://{ADDRESS}/-/ready", "metrics-up")
ready = SERVER.ready


def config(consul: str, token_file: Path, tls: tuple[Path, Path, Path] | None = None) -> str:
    """prometheus.yml: two jobs over the same Consul service discovery, apps and Envoys. ``consul``
    is host:port: the gate's plain HTTP locally, or with ``tls`` (CA, client certificate and key)
    Consul's HTTPS API itself, as in the containers."""
    secure = "" if tls is None else f"""        scheme: https
        tls_config:
          ca_file: {tls[0]}
          cert_file: {tls[1]}
          key_file: {tls[2]}
          insecure_skip_verify: false
          server_name: server.dc1.consul
"""
    discovery = f"""    consul_sd_configs:
      - server: {consul}
        datacenter: dc1
        refresh_interval: 10s
        authorization:
          credentials_file: {token_file}
{secure}"""
    # a sidecar is registered with its service's meta (Consul copies it): count each service once
    named = """      - source_labels: [__meta_consul_service]
        regex: .+-sidecar-proxy
        action: drop
      - source_labels: [__meta_consul_service]
        target_label: service
      - source_labels: [__meta_consul_node]
        target_label: node
"""
    return f"""# Written by meshctl/metrics.py on every start: edit that, not this.
global:
  scrape_interval: {SCRAPE_INTERVAL}
  scrape_timeout: 4s
  evaluation_interval: {SCRAPE_INTERVAL}
scrape_configs:
  - job_name: apps  # each service's own /metrics (shopcommon.metrics), through its sidecar's expose listener
{discovery}    relabel_configs:
      - source_labels: [__meta_consul_service_metadata_app_metrics_port]
        regex: .+
        action: keep
      - source_labels: [__meta_consul_service_address, __meta_consul_service_metadata_app_metrics_port]
        separator: ":"
        target_label: __address__
{named}  - job_name: envoys  # each sidecar's Envoy, on the port its service's meta names
{discovery}    relabel_configs:
      - source_labels: [__meta_consul_service_metadata_envoy_metrics_port]
        regex: .+
        action: keep
      - source_labels: [__meta_consul_service_address, __meta_consul_service_metadata_envoy_metrics_port]
        separator: ":"
        target_label: __address__
{named}"""


def argv(config_file: Path, data: Path) -> list[str]:
    return [str(BIN), f"--config.file={config_file}", f"--storage.tsdb.path={data}",
            f"--storage.tsdb.retention.time={RETENTION[0]}", f"--storage.tsdb.retention.size={RETENTION[1]}",
            f"--web.listen-address={ADDRESS}", "--log.level=warn"]
