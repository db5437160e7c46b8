# How long a caller's Envoy waits to connect to products: its sidecar is on this host or network, so
# 2 s without a connection means it is not there (and a retry, router-products.hcl, may try another).
# How long it waits for an answer is in router-products.hcl: Consul 1.16 puts a resolver's
# RequestTimeout on no route of a service that has a router.
Kind           = "service-resolver"
Name           = "products"
ConnectTimeout = "2s"
