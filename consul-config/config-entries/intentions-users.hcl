Kind = "service-intentions"
Name = "users"
Sources = [
  {
    Name = "frontend"
    Permissions = [
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/api/users"
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
  {
    # orders only checks that a user exists
    Name = "orders"
    Permissions = [
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/api/users/"
          Methods    = ["GET"]
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
