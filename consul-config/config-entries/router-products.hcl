# Retries for calls to products, on the caller's Envoy (see router-users.hcl for what is retried):
# reads, and the reservation calls, whose ids make every repeat harmless (a repeated PUT returns the
# reservation already made, a repeated DELETE or confirmation changes nothing). A new product (POST)
# is never retried.
Kind = "service-router"
Name = "products"
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
    Match {
      HTTP {
        PathPrefix = "/products/reservations/"
        Methods    = ["PUT", "DELETE"]
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
    # everything else: no retry; the same time limit (a reservation waits on products' write
    # lock under load, still far below 5 s; less than orders' own timeout)
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
