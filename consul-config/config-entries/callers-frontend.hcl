# What frontend's Envoy does about the services it calls (its upstreams). Protocol as in proxy-defaults.
Kind     = "service-defaults"
Name     = "frontend"
Protocol = "http"

UpstreamConfig {
  Defaults {
    # Circuit breaker: at most this many connections, queued and concurrent requests to one
    # upstream; beyond it Envoy answers 503 at once instead of piling work on a service that is
    # already behind. Far above what this host can serve (a few hundred requests a second), so
    # only a runaway caller meets it.
    Limits {
      MaxConnections        = 512
      MaxPendingRequests    = 512
      MaxConcurrentRequests = 512
    }
    # Outlier detection: an instance that answers 5 errors (5xx) in a row is taken out of the
    # rotation for 10 s (longer each time again), checked every 5 s. Never more than half of the
    # instances: with one instance of a service (make up, services.yml) none is ever ejected, with
    # two one can be, and traffic moves to the other.
    PassiveHealthCheck {
      Interval                = "5s"
      MaxFailures             = 5
      EnforcingConsecutive5xx = 100
      MaxEjectionPercent      = 50
      BaseEjectionTime        = "10s"
    }
  }
  Overrides = [
    {
      # No outlier detection on orders: it relays. When users or products fail, orders answers 503
      # (upstream_unavailable, upstream_denied) and serves everything else, and 5 of those in a row
      # would eject a working instance. "Never more than half" does not save the survivor: Envoy
      # counts an instance Consul holds critical among the hosts the half is measured against, and
      # Consul turns off Envoy's panic routing, so with the other instance critical nothing is left
      # to route to. A dead orders instance is Consul's check's to take out (about 4 s).
      # integration-tests/cluster/test_outliers.py makes that state and checks.
      Name = "orders"
      PassiveHealthCheck {
        MaxEjectionPercent = 0
      }
    },
  ]
}
