# Who may call products: the frontend and orders. meshctl/entries.py ends each source's permissions
# with a deny of everything else (intentions-default-deny.hcl says why).
Kind = "service-intentions"
Name = "products"
Sources = [
  # the browser may read and add products, never touch stock reservations
  { Name = "frontend", Permissions = [
      { Action = "deny", HTTP = { PathPrefix = "/products/reservations" } },
      { Action = "allow", HTTP = { PathPrefix = "/products", Methods = ["GET", "POST"] } },
  ] },
  # orders reads products and reserves, confirms or releases their stock
  { Name = "orders", Permissions = [
      { Action = "allow", HTTP = { PathPrefix = "/products/reservations/", Methods = ["GET", "PUT", "DELETE"] } },
      { Action = "allow", HTTP = { PathPrefix = "/products", Methods = ["GET"] } },
  ] },
]
