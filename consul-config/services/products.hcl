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
    timeout  = "1s"
  }

  connect {
    sidecar_service {
      port = 21003 # mTLS only: the way in from the mesh
      proxy {
        local_service_address = "127.0.0.1"
        local_service_port    = 5003
      }
    }
  }
}
