service {
  name    = "orders"
  id      = "orders"
  address = "127.0.0.1"
  port    = 5004

  check {
    id       = "orders-http"
    name     = "GET /healthcheck"
    http     = "http://127.0.0.1:5004/healthcheck"
    interval = "2s"
    timeout  = "2s"
    # one slow answer on a busy host is not an outage: critical after two failures in a row
    failures_before_critical = 2
  }

  connect {
    sidecar_service {
      port = 21004 # mTLS only: the way in from the mesh
      # Consul's default sidecar checks, but every 2s instead of 10s: a new sidecar passes sooner
      checks = [
        { name = "Connect Sidecar Listening", tcp = "127.0.0.1:21004", interval = "2s", failures_before_critical = 2 },
        { name = "Connect Sidecar Aliasing orders", alias_service = "orders" },
      ]
      proxy {
        local_service_address = "127.0.0.1"
        local_service_port    = 5004
        # orders reaches these at http://127.0.0.1:<local_bind_port>; its Envoy does the rest
        upstreams = [
          { destination_name = "users", local_bind_address = "127.0.0.1", local_bind_port = 8102 },
          { destination_name = "products", local_bind_address = "127.0.0.1", local_bind_port = 8103 },
        ]
      }
    }
  }
}
