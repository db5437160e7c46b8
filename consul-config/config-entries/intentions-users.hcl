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
        # a request no permission matches gets Consul's default, which follows the ACLs' (deny
        # here, allow without ACLs): this explicit deny keeps the file's meaning either way
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
        # a request no permission matches gets Consul's default, which follows the ACLs' (deny
        # here, allow without ACLs): this explicit deny keeps the file's meaning either way
        Action = "deny"
        HTTP {
          PathPrefix = "/"
        }
      },
    ]
  },
]
