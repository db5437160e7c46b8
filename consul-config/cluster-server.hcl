# A server of the cluster (cluster.yml), read after agent.hcl and agent-docker.hcl; its node name
# (server-1, server-2, server-3) comes from its command line. Three servers: the cluster keeps a
# leader, and every write, while any two of them run.
bootstrap_expect = 3
retry_join       = ["server-1", "server-2", "server-3"] # itself included: Consul skips it

# Agents talk to each other over TLS (RPC on 8300) and only with a certificate from Consul's CA:
# the other servers (a server certificate) and the client agents (each a client certificate of
# its own). A server presents server.dc1.consul, which the client agents check.
tls {
  defaults {
    verify_outgoing = true
  }
  internal_rpc {
    verify_incoming        = true
    verify_server_hostname = true
  }
}
