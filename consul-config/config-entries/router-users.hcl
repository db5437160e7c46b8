# Retries for calls to users, on the caller's Envoy: only for reads, which change nothing however
# often they run. A new user (POST) is never retried: a retry after a lost answer could create it
# twice. Retried: a connection that could not be made, a connection reset before the answer (an
# instance dying with the request inside it; harmless to repeat here, fatal to repeat a create),
# and a 503 (an instance with no healthy upstream of its own, or one going away); twice, then the
# caller hears the last answer.
Kind = "service-router"
Name = "users"
Routes = [
  {
    Match {
      HTTP {
        Methods = ["GET", "HEAD"]
      }
    }
    Destination {
      NumRetries            = 2
      RetryOnConnectFailure = true
      RetryOn               = ["reset"]
      RetryOnStatusCodes    = [503]
      RequestTimeout        = "5s"
    }
  },
  {
    # everything else: no retry; the same time limit (users answers in milliseconds; 5 s is
    # far past any healthy answer and less than its callers' own timeouts, so Envoy gives up
    # first and its 504 reaches the caller as "users unavailable")
    Match {
      HTTP {
        PathPrefix = "/"
      }
    }
    Destination {
      RequestTimeout = "5s"
    }
  },
]
