# Who may call orders: the frontend, to list, read and place orders. meshctl/entries.py ends each
# source's permissions with a deny of everything else (intentions-default-deny.hcl says why).
Kind = "service-intentions"
Name = "orders"
Sources = [
  { Name = "frontend", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/api/orders", Methods = ["GET", "POST"] } },
  ] },
]
