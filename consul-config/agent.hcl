# Single-node Consul server, for both modes; where it listens is in agent-local.hcl (make up)
# or agent-docker.hcl (services.yml).
server           = true
bootstrap_expect = 1
datacenter       = "dc1"

ports {
  http     = -1   # no plain HTTP: the agent hands cached mesh certificates to anyone who reaches its API
  https    = 8501 # the API over TLS, for callers with a client certificate (see meshctl/secrets.py)
  grpc     = -1   # no plaintext xDS: every Envoy takes its config over TLS and verifies Consul's certificate
  grpc_tls = 8503
}

# Every call needs a token, and a token only what its identity needs (meshctl/acl.py). The tokens
# are made by the bootstrap step (make up; mesh-init in containers); the agent keeps the token it is
# given through the API across restarts. Should the leader be lost, tokens already checked keep
# working from the cache until it is back.
acl {
  enabled                  = true
  default_policy           = "deny"
  enable_token_persistence = true
  down_policy              = "extend-cache"
}

connect {
  enabled = true
}

ui_config {
  enabled = true
}

# A blocking query (what an agent's cache holds open to a server for each sidecar's upstreams,
# config entries and intentions) answers within 30 s, not Consul's default 10 minutes. A query sent
# as a node is cut off from the servers can be lost on a connection that survives the cut; the agent
# then waits for an answer until its read deadline (max_query_time + a sixteenth + rpc_hold_timeout),
# and meanwhile feeds that node's Envoys the state from before: measured once, 10 min 46 s of a
# healthy instance held unhealthy, healed when that deadline passed (docs/scale.md, "The stale view
# after a node cut"). Set on servers and clients alike: a server answers within it, and a client
# gives up on a lost query after about 39 s and asks again. The cost: every open query is asked
# again every 30 s, a few requests a second for the whole cluster.
max_query_time     = "30s"
default_query_time = "30s"

# the tightest raft timings: a single local server elects itself in about a second
performance {
  raft_multiplier = 1
}

log_level            = "INFO"
enable_script_checks = false
disable_update_check = true
