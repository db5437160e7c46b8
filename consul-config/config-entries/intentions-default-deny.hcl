# Deny by default: any call not allowed by a more specific intention is refused.
#
# The intentions files list what each source may do (L7: methods and paths), and meshctl/entries.py
# ends every source's permissions with a deny of everything else, unless its last permission already
# matches every request. Without it, a request that matches none of a source's permissions would get
# Consul's default intention policy, not this entry, and that default follows the ACLs'
# default_policy (deny here, but allow without ACLs). The explicit deny keeps each file's meaning
# either way.
Kind = "service-intentions"
Name = "*"
Sources = [
  {
    Name   = "*"
    Action = "deny"
  },
]
