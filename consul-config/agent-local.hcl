# Local mode (make up): everything on this host's loopback; -data-dir under volumes/.
node_name   = "shop"
bind_addr   = "127.0.0.1"
client_addr = "127.0.0.1"

# The UI's topology and service pages show request rate, errors and latency per edge, from the
# Prometheus `make up` runs (meshctl/metrics.py), through Consul's own metrics proxy; a service's
# "dashboard" is its section of the frontend's mesh page, which draws the same numbers
ui_config {
  metrics_provider = "prometheus"
  metrics_proxy {
    base_url = "http://127.0.0.1:9090"
  }
  dashboard_url_templates {
    service = "http://localhost:5001/mesh#svc-{{Service.Name}}"
  }
}
