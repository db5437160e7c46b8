# The mesh's resilience policy: connect timeouts, retries, time limits, circuit breakers and outlier
# detection, each said once. This file is not a config entry. Consul's HCL has no includes, so
# meshctl/entries.py derives the entries from it and from the service definitions (who calls whom),
# and `make up` and mesh-init write them with the hand-written ones in config-entries/:
#
#   service-resolver <service>   for every service a definition lists as an upstream: ConnectTimeout
#   service-router <service>     for every Service below: Retry on its reads and its IdempotentWrites,
#                                its RequestTimeout on every route, a last route for everything else
#   service-defaults <caller>    for every service that calls others: Limits and PassiveHealthCheck on
#                                each of its upstreams, RelayPassiveHealthCheck on one that relays
#   ingress-gateway's Defaults   the same, for the services on the gateway's listeners
#
# `python -m meshctl entries` lists every entry and where it comes from;
# `python -m meshctl entries service-router/products` prints one as Consul gets it.

# How long a caller's Envoy waits to connect to a service: its sidecar is on this host or network, so
# 2 s without a connection means it is not there (and a retry may try another instance). How long it
# waits for an answer is each Service's RequestTimeout: Consul 1.16 puts a resolver's RequestTimeout
# on no route of a service that has a router.
ConnectTimeout = "2s"

# A retry, on the routes whose repeat cannot harm (reads, and each Service's IdempotentWrites; never a
# POST that creates something: a retry after a lost answer could create it twice). Retried: a
# connection that could not be made, a connection reset before the answer (an instance dying with the
# request inside it; harmless to repeat here, fatal to repeat a create), and a 503 (an instance with
# no healthy upstream of its own, or one going away); twice, then the caller hears the last answer.
Retry {
  NumRetries            = 2
  RetryOnConnectFailure = true
  RetryOn               = ["reset"]
  RetryOnStatusCodes    = [503]
}

# Reads change nothing however often they run: retried on every service.
Reads = ["GET", "HEAD"]

# Circuit breaker: at most this many connections, queued and concurrent requests to one upstream;
# beyond it Envoy answers 503 at once instead of piling work on a service that is already behind.
# Far above what this host can serve (a few hundred requests a second), so only a runaway caller
# meets it.
Limits {
  MaxConnections        = 512
  MaxPendingRequests    = 512
  MaxConcurrentRequests = 512
}

# Outlier detection: an instance that answers 5 errors (5xx) in a row is taken out of the rotation
# for 10 s (longer each time again), checked every 5 s. Never more than half of the instances: with
# one instance of a service (make up, services.yml) none is ever ejected, with two one can be, and
# traffic moves to the other.
PassiveHealthCheck {
  Interval                = "5s"
  MaxFailures             = 5
  EnforcingConsecutive5xx = 100
  MaxEjectionPercent      = 50
  BaseEjectionTime        = "10s"
}

# A service that calls others relays (frontend, orders): when a service behind it fails it answers
# 503 (upstream_unavailable, upstream_denied) and serves everything else, and 5 of those in a row
# would eject a working instance. "Never more than half" does not save the survivor: Envoy counts an
# instance Consul holds critical among the hosts the half is measured against, and Consul turns off
# Envoy's panic routing, so with the other instance critical nothing is left to route to ("no
# healthy upstream"). So nothing ejects a relay; a dead one is Consul's check's to take out (about
# 4 s). integration-tests/cluster/test_outliers.py makes that state and checks.
RelayPassiveHealthCheck {
  MaxEjectionPercent = 0
}

# One block per service with callers: its time limit on every route, and the writes a repeat cannot
# harm (matched as a service-router route's HTTP match).
Service "users" {
  # users answers in milliseconds; 5 s is far past any healthy answer and less than its callers' own
  # timeouts, so Envoy gives up first and its 504 reaches the caller as "users unavailable"
  RequestTimeout = "5s"
  # none: a new user (POST) is never retried
  IdempotentWrites = []
}

Service "products" {
  # a reservation waits on products' write lock under load, still far below 5 s; less than orders'
  # own timeout
  RequestTimeout = "5s"
  # the reservation calls, whose ids make every repeat harmless (a repeated PUT returns the reservation
  # already made, a repeated DELETE or confirmation changes nothing); a new product (POST) is not
  IdempotentWrites = [
    { PathPrefix = "/products/reservations/", Methods = ["PUT", "DELETE"] },
  ]
}

Service "orders" {
  # placing an order is three calls of orders' own, each up to its 3 s timeout; the frontend itself
  # gives up at 10 s first
  RequestTimeout = "12s"
  # an order that carries an Idempotency-Key: its repeat replays the first answer instead of ordering
  # twice. An order without a key is never retried.
  IdempotentWrites = [
    { PathExact = "/api/orders", Methods = ["POST"], Header = [{ Name = "Idempotency-Key", Present = true }] },
  ]
}

Service "frontend" {
  # Its only mesh caller is the ingress gateway (cluster.yml); where browsers reach the frontend
  # directly (make up, services.yml) no Envoy routes to it. 15 s, Envoy's default, said here: above
  # frontend's own 10 s limit on its calls to orders, so the frontend's answer, not a gateway timeout,
  # reaches the browser
  RequestTimeout = "15s"
  # placing an order through the API with an Idempotency-Key, which frontend passes on to orders. A
  # form's POST is never retried.
  IdempotentWrites = [
    { PathExact = "/api/orders", Methods = ["POST"], Header = [{ Name = "Idempotency-Key", Present = true }] },
  ]
}
