Kind     = "service-defaults"
Name     = "users"
Protocol = "http" # L7: Envoy parses HTTP, so intentions can match methods and paths
