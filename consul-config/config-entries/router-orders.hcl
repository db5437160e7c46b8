# Retries for calls to orders, on the frontend's Envoy (see router-users.hcl for what is retried):
# reads, and placing an order that carries an Idempotency-Key, whose repeat replays the first
# answer instead of ordering twice. An order without a key is never retried.
Kind = "service-router"
Name = "orders"
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
      RequestTimeout        = "12s"
    }
  },
  {
    Match {
      HTTP {
        PathExact = "/api/orders"
        Methods   = ["POST"]
        Header    = [{ Name = "Idempotency-Key", Present = true }]
      }
    }
    Destination {
      NumRetries            = 2
      RetryOnConnectFailure = true
      RetryOn               = ["reset"]
      RetryOnStatusCodes    = [503]
      RequestTimeout        = "12s"
    }
  },
  {
    # everything else: no retry; the same time limit (placing an order is three calls of
    # orders' own, each up to its 3 s timeout; the frontend itself gives up at 10 s first)
    Match {
      HTTP {
        PathPrefix = "/"
      }
    }
    Destination {
      RequestTimeout = "12s"
    }
  },
]
