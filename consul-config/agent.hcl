# Single-node Consul server, for both modes; where it listens is in agent-local.hcl (make up)
# or agent-docker.hcl (services.yml).
server           = true
bootstrap_expect = 1
datacenter       = "dc1"

ports {
  http     = 8500
  https    = 8501 # the API over TLS, with a certificate from this mesh's own CA (made on first start)
  grpc     = -1   # no plaintext xDS: every Envoy takes its config over TLS and verifies Consul's certificate
  grpc_tls = 8503
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
