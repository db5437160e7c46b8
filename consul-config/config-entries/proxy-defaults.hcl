# Every sidecar's defaults. Written before the intentions: L7 intentions need protocol http.
Kind = "proxy-defaults"
Name = "global"

Config {
  # L7: Envoy parses HTTP, so intentions can match methods and paths
  protocol = "http"
}

# A call to a peered datacenter's service (a failover to dc2.yml's products) leaves through this
# datacenter's own mesh gateway, which takes it to the peer's: no sidecar needs a route to the other
# datacenter. Calls within the datacenter never pass a gateway, whatever this says.
MeshGateway {
  Mode = "local"
}

# Two patches of every sidecar's upstreams:
#
# A failover target (dc2's products, docs/peering.md) only when no instance here passes. Consul
# 1.16 makes a failover an Envoy aggregate cluster, whose first cluster keeps its share of the
# calls only while healthy hosts x the overprovisioning factor (Envoy's default 1.4) reach 100 %:
# with one of two instances down, 30 % of the calls would go to the other datacenter. A factor of
# 100000 (what Consul itself sets where it builds the failover into one cluster) moves calls only
# once none is left. A cluster without a failover has one priority, where the factor changes nothing.
#
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
          ResourceFilter = { ResourceType = "cluster-load-assignment", TrafficDirection = "outbound" }
          Op               = "add"
          Path             = "/policy/overprovisioning_factor"
          Value            = 100000
        },
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
