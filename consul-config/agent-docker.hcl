# In its container (services.yml), next to agent.hcl.
node_name   = "consul"
bind_addr   = "{{ GetInterfaceIP \"eth0\" }}"
client_addr = "0.0.0.0" # the sidecars reach the API and xDS over the mesh network

ports {
  http = -1 # the API only over TLS here
}

# made on first start by consul-config/entrypoint.sh, in the data volume
tls {
  defaults {
    ca_file   = "/consul/data/secrets/tls/consul-agent-ca.pem"
    cert_file = "/consul/data/secrets/tls/dc1-server-consul-0.pem"
    key_file  = "/consul/data/secrets/tls/dc1-server-consul-0-key.pem"
  }
}
