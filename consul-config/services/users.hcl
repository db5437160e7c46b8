service {
  name    = "users"
  id      = "users"
  address = "127.0.0.1"
  port    = 5002

  check {
    id       = "users-http"
    name     = "GET /healthcheck"
    http     = "http://127.0.0.1:5002/healthcheck"
    interval = "2s"
    timeout  = "2s"
    # one slow answer on a busy host is not an outage: critical after two failures in a row
    failures_before_critical = 2
  }

  connect {
    sidecar_service {
      port = 21002 # mTLS only: the way in from the mesh
      # Consul's default sidecar checks, but every 2s instead of 10s: a new sidecar passes sooner
      checks = [
        { name = "Connect Sidecar Listening", tcp = "127.0.0.1:21002", interval = "2s", failures_before_critical = 2 },
        { name = "Connect Sidecar Aliasing users", alias_service = "users" },
      ]
      proxy {
        local_service_address = "127.0.0.1"
        local_service_port    = 5002
      }
    }
  }
}
