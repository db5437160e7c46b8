# Deny by default: any call not allowed by a more specific intention is refused.
Kind = "service-intentions"
Name = "*"
Sources = [
  {
    Name   = "*"
    Action = "deny"
  },
]
