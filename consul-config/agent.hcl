# Single-node Consul server for local mode; `make up` passes -data-dir under volumes/.
server           = true
bootstrap_expect = 1
node_name        = "shop"
datacenter       = "dc1"

bind_addr   = "127.0.0.1"
client_addr = "127.0.0.1"

ports {
  http = 8500
  grpc = 8502 # plaintext xDS for the local Envoy sidecars
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
