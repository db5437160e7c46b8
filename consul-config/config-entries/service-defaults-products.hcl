Kind     = "service-defaults"
Name     = "products"
Protocol = "http" # L7: Envoy parses HTTP, so intentions can match methods and paths
