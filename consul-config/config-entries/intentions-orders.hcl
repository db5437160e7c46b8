Kind = "service-intentions"
Name = "orders"
Sources = [
  {
    Name = "frontend"
    Permissions = [
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/api/orders"
          Methods    = ["GET", "POST"]
        }
      },
      {
        # the mesh allows whatever no intention denies (ACLs are off), so each source ends
        # with an explicit deny: anything the permissions above do not allow is refused
        Action = "deny"
        HTTP {
          PathPrefix = "/"
        }
      },
    ]
  },
]
