# In dc2, only dc1's orders (by the peer name dc2 gave dc1) may call products: what orders may do in
# dc1 (config-entries/intentions-products.hcl), and nothing else. meshctl/entries.py ends the
# source's permissions with a deny; intentions-default-deny.hcl denies every other caller, dc2's own
# services included.
Kind = "service-intentions"
Name = "products"
Sources = [
  { Name = "orders", Peer = "dc1", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/products/reservations/", Methods = ["GET", "PUT", "DELETE"] } },
      { Action = "allow", HTTP = { PathPrefix = "/products", Methods = ["GET"] } },
  ] },
]
