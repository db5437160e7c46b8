Kind = "service-intentions"
Name = "products"
Sources = [
  {
    # the browser may read and add products, never touch stock reservations
    Name = "frontend"
    Permissions = [
      {
        Action = "deny"
        HTTP {
          PathPrefix = "/products/reservations"
        }
      },
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/products"
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
    # orders reads products and reserves or releases their stock
    Name = "orders"
    Permissions = [
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/products/reservations/"
          Methods    = ["GET", "PUT", "DELETE"]
        }
      },
      {
        Action = "allow"
        HTTP {
          PathPrefix = "/products"
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
