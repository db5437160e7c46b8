# Who may call frontend: the ingress gateway, which brings the browsers' requests in the cluster
# (cluster.yml). All of it, pages, forms and the JSON relay: the frontend is the public face, and
# it checks what it is sent itself. Elsewhere browsers reach the frontend directly, not through
# the mesh, and no ingress-gateway exists to match.
Kind = "service-intentions"
Name = "frontend"
Sources = [
  {
    Name   = "ingress-gateway"
    Action = "allow"
  },
]
