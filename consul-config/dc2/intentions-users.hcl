# In dc2, only dc1's orders may call users, and only to check that a user exists (as in dc1,
# config-entries/intentions-users.hcl); intentions-default-deny.hcl denies every other caller.
Kind = "service-intentions"
Name = "users"
Sources = [
  { Name = "orders", Peer = "dc1", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/api/users/", Methods = ["GET"] } },
  ] },
]
