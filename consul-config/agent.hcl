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

# the tightest raft timings: a single local server elects itself in about a second
performance {
  raft_multiplier = 1
}

log_level            = "INFO"
enable_script_checks = false
disable_update_check = true
