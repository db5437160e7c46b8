# The mesh's own settings. Peering with another datacenter (dc2.yml) goes through the mesh gateways:
# a peer's servers reach this datacenter's servers through them, never directly, so the gateways
# on the network the datacenters share are the only way between them (docs/peering.md). Where
# there is no peering (make up, services.yml) this changes nothing.
Kind = "mesh" # no Name: there is one mesh entry, which Consul names "mesh"

Peering {
  PeerThroughMeshGateways = true
}
