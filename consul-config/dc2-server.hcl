# dc2's one server (dc2.yml), read after agent.hcl and agent-docker.hcl, as cluster-server.hcl is for
# dc1's three. One server keeps dc2 small: it stands for a second site that dc1 fails over to, and
# losing it loses dc2, not dc1 (docs/peering.md). Its client agent uses cluster-client.hcl.
datacenter       = "dc2"
bootstrap_expect = 1

# as in dc1: agents talk to each other over TLS and only with a certificate from dc2's own CA; the
# server presents server.dc2.consul, which the client agent checks
tls {
  defaults {
    verify_outgoing = true
  }
  internal_rpc {
    verify_incoming        = true
    verify_server_hostname = true
  }
}
