service {
  name    = "products"
  id      = "products"
  address = "127.0.0.1"
  port    = 5003

  check {
    id       = "products-http"
    name     = "GET /healthcheck"
    http     = "http://127.0.0.1:5003/healthcheck"
    interval = "2s"
    timeout  = "2s"
    # one slow answer on a busy host is not an outage: critical after two failures in a row
    failures_before_critical = 2
  }

  connect {
    sidecar_service {
      port = 21003 # mTLS only: the way in from the mesh
      # Consul's default sidecar checks, but every 2s instead of 10s: a new sidecar passes sooner
      checks = [
        { name = "Connect Sidecar Listening", tcp = "127.0.0.1:21003", interval = "2s", failures_before_critical = 2 },
        { name = "Connect Sidecar Aliasing products", alias_service = "products" },
      ]
      proxy {
        local_service_address = "127.0.0.1"
        local_service_port    = 5003
      }
    }
  }
}
