# Single-node Consul server, for both modes; where it listens is in agent-local.hcl (make up)
# or agent-docker.hcl (services.yml).
server           = true
bootstrap_expect = 1
datacenter       = "dc1"

ports {
  http = 8500
  grpc = 8502 # plaintext xDS for the Envoy sidecars
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
