# In its container (services.yml), next to agent.hcl. TLS and the gossip key come from the files
# mesh-secrets made (/consul/secrets, passed by services.yml).
node_name   = "consul"
bind_addr   = "{{ GetInterfaceIP \"eth0\" }}"
client_addr = "0.0.0.0" # the sidecars reach the API and xDS over the mesh network

# The UI's topology with numbers, from the prometheus container (as agent-local.hcl says for make up)
ui_config {
  metrics_provider = "prometheus"
  metrics_proxy {
    base_url = "http://prometheus:9090"
  }
}
