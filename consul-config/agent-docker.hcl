# Single-node Consul server in its container (services.yml); local mode uses agent.hcl.
server           = true
bootstrap_expect = 1
node_name        = "consul"
datacenter       = "dc1"

bind_addr   = "{{ GetInterfaceIP \"eth0\" }}"
client_addr = "0.0.0.0" # the sidecars reach the API and xDS over the mesh network

ports {
  http = 8500
  grpc = 8502
}

connect {
  enabled = true
}

ui_config {
  enabled = true
}

performance {
  raft_multiplier = 1
}

log_level            = "INFO"
enable_script_checks = false
disable_update_check = true
