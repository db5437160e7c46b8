# A client agent of the cluster (cluster.yml), one per node, read after agent.hcl and
# agent-docker.hcl; its node name (node-1, node-2) comes from its command line. The services on its
# node register with it and their Envoys take xDS from it; it forwards to the servers.
server           = false
bootstrap_expect = 0 # agent.hcl's 1 is for a server
retry_join       = ["server-1", "server-2", "server-3"]

# the UI is the servers' (one of them is published); a client serves none, to stay small
ui_config {
  enabled = false
}

# RPC to the servers over TLS only, and only to an agent whose certificate names
# server.dc1.consul: a client certificate from the same CA cannot pass as a server
tls {
  defaults {
    verify_outgoing = true
  }
  internal_rpc {
    verify_server_hostname = true
  }
}
