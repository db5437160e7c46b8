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
