# Who may call frontend: the ingress gateway, which brings the browsers' requests in the cluster
# (cluster.yml). All of it, pages, forms and the JSON relay: the frontend is the public face, and
# it checks what it is sent itself; all but its own metrics, which are Prometheus' (it reaches them
# through the sidecar's expose listener, not through the gateway). Elsewhere browsers reach the
# frontend directly, not through the mesh, and no ingress-gateway exists to match.
Kind = "service-intentions"
Name = "frontend"
Sources = [
  { Name = "ingress-gateway", Permissions = [
      { Action = "deny", HTTP = { PathExact = "/metrics" } },
      { Action = "allow", HTTP = { PathPrefix = "/" } },
  ] },
]
