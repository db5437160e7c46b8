# The browsers' way in to the cluster (cluster.yml): the ingress gateway registered as
# ingress-gateway listens on 8080 for HTTP and balances over every healthy frontend instance.
# Where no such gateway runs (make up, services.yml: browsers reach the frontend directly), this
# entry configures nothing. Its Defaults (the callers' circuit-breaker limits, and no outlier
# detection: the frontend relays) are derived from ../resilience.hcl; retries and time limits are
# frontend's router's, derived from the same file.
Kind = "ingress-gateway"
Name = "ingress-gateway"
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
