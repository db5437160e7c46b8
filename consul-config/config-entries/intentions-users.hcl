# Who may call users: the frontend and orders. meshctl/entries.py ends each source's permissions
# with a deny of everything else (intentions-default-deny.hcl says why).
Kind = "service-intentions"
Name = "users"
Sources = [
  { Name = "frontend", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/api/users", Methods = ["GET", "POST"] } },
  ] },
  # orders only checks that a user exists
  { Name = "orders", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/api/users/", Methods = ["GET"] } },
  ] },
]
