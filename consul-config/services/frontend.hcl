service {
  name    = "frontend"
  id      = "frontend"
  address = "127.0.0.1"
  port    = 5001

  check {
    id       = "frontend-http"
    name     = "GET /healthcheck"
    http     = "http://127.0.0.1:5001/healthcheck"
    interval = "2s"
    timeout  = "2s"
    # one slow answer on a busy host is not an outage: critical after two failures in a row
    failures_before_critical = 2
  }

  connect {
    sidecar_service {
      port = 21001
      # Consul's default sidecar checks, but every 2s instead of 10s: a new sidecar passes sooner
      checks = [
        { name = "Connect Sidecar Listening", tcp = "127.0.0.1:21001", interval = "2s", failures_before_critical = 2 },
        { name = "Connect Sidecar Aliasing frontend", alias_service = "frontend" },
      ]
      proxy {
        local_service_address = "127.0.0.1"
        local_service_port    = 5001
        # distinct from orders' upstream ports: every listener shares one host in local mode
        upstreams = [
          { destination_name = "users", local_bind_address = "127.0.0.1", local_bind_port = 8012 },
          { destination_name = "products", local_bind_address = "127.0.0.1", local_bind_port = 8013 },
          { destination_name = "orders", local_bind_address = "127.0.0.1", local_bind_port = 8014 },
        ]
      }
    }
  }
}
