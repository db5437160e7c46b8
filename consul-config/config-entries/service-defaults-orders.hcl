Kind     = "service-defaults"
Name     = "orders"
Protocol = "http" # L7: Envoy parses HTTP, so intentions can match methods and paths
