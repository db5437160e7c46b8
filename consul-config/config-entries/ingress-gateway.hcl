# The browsers' way in to the cluster (cluster.yml): the ingress gateway registered as
# ingress-gateway listens on 8080 for HTTP and balances over every healthy frontend instance.
# Where no such gateway runs (make up, services.yml: browsers reach the frontend directly), this
# entry configures nothing.
Kind = "ingress-gateway"
Name = "ingress-gateway"
# What the gateway does about the frontends, as callers-frontend.hcl says for a sidecar's upstreams:
# the same circuit-breaker limits, and outlier detection (5 errors in a row take an instance out for
# 10 s; never more than half of them). Retries and time limits are frontend's router's
# (router-frontend.hcl).
Defaults {
  MaxConnections        = 512
  MaxPendingRequests    = 512
  MaxConcurrentRequests = 512
  PassiveHealthCheck {
    Interval                = "5s"
    MaxFailures             = 5
    EnforcingConsecutive5xx = 100
    MaxEjectionPercent      = 50
    BaseEjectionTime        = "10s"
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
