# Retries for calls to frontend. Its only mesh caller is the ingress gateway (cluster.yml); where
# browsers reach the frontend directly (make up, services.yml) no Envoy routes to it and this entry
# configures nothing. As for the other services (router-users.hcl says what is retried and why):
# reads, and placing an order through the API with an Idempotency-Key, which frontend passes on to
# orders, whose repeat replays the first answer. A form's POST is never retried.
Kind = "service-router"
Name = "frontend"
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
      RequestTimeout        = "15s"
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
      RequestTimeout        = "15s"
    }
  },
  {
    # everything else: no retry. 15 s, Envoy's default, said here: above frontend's own 10 s limit
    # on its calls to orders, so the frontend's answer, not a gateway timeout, reaches the browser
    Match {
      HTTP {
        PathPrefix = "/"
      }
    }
    Destination {
      RequestTimeout = "15s"
    }
  },
]
