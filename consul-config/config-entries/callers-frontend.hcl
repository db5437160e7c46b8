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
}
