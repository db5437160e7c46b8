# Every sidecar's defaults. Written before the intentions: L7 intentions need protocol http.
Kind = "proxy-defaults"
Name = "global"

Config {
  # L7: Envoy parses HTTP, so intentions can match methods and paths
  protocol = "http"
}

# TCP keepalive on every connection a sidecar opens to another service's sidecar. When a container
# restarts, its network namespace vanishes without closing its connections, and the callers' Envoys
# keep them pooled; the first request to reuse one after the service is back gets a reset
# ("connection termination"). With keepalive, an idle dead connection is found and dropped within
# keepalive_time + probes x interval (about 4 s) instead of failing a request.
EnvoyExtensions = [
  {
    Name = "builtin/property-override"
    Arguments = {
      ProxyType = "connect-proxy"
      Patches = [
        {
          ResourceFilter = { ResourceType = "cluster", TrafficDirection = "outbound" }
          Op               = "add"
          Path             = "/upstream_connection_options/tcp_keepalive/keepalive_time"
          Value            = 2
        },
        {
          ResourceFilter = { ResourceType = "cluster", TrafficDirection = "outbound" }
          Op               = "add"
          Path             = "/upstream_connection_options/tcp_keepalive/keepalive_interval"
          Value            = 1
        },
        {
          ResourceFilter = { ResourceType = "cluster", TrafficDirection = "outbound" }
          Op               = "add"
          Path             = "/upstream_connection_options/tcp_keepalive/keepalive_probes"
          Value            = 2
        },
      ]
    }
  },
]
