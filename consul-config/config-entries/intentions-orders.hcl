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
