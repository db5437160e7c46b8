# The browsers' way in to the cluster (cluster.yml): the ingress gateway registered as
# ingress-gateway listens on 8080 for HTTP and balances over every healthy frontend instance.
# Where no such gateway runs (make up, services.yml: browsers reach the frontend directly), this
# entry configures nothing.
Kind = "ingress-gateway"
Name = "ingress-gateway"
# What the gateway does about the frontends: the circuit-breaker limits of callers-frontend.hcl, and
# no outlier detection, for the reason it gives for orders: the frontend relays, and its 503s are
# mostly orders' or products' failures, not its own. Ejecting the frontend left serving while the
# other is critical would leave the gateway nothing to route to ("no healthy upstream"). A dead
# frontend is Consul's check's to take out. Retries and time limits are frontend's router's
# (router-frontend.hcl).
Defaults {
  MaxConnections        = 512
  MaxPendingRequests    = 512
  MaxConcurrentRequests = 512
  PassiveHealthCheck {
    MaxEjectionPercent = 0
  }
}
Listeners = [
  {
    Port     = 8080 # cluster.yml publishes it on the host's ${CLUSTER_PORT}
    Protocol = "http"
    Services = [
      {
        Name = "frontend"
        # any Host header: the browser's (localhost:8080) names no Consul service; with a single
        # service on the listener Consul allows the wildcard
        Hosts = ["*"]
      },
    ]
  },
]
