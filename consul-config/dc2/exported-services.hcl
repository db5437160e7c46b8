# What dc2 (dc2.yml) offers its peer dc1: users and products. dc1 sees them as imported services,
# and products' resolver there fails over to them (meshctl/peering.py writes that once the peering
# is active). dc2 imports nothing: dc1 exports nothing to it.
Kind = "exported-services"
Name = "default"

Services = [
  { Name = "users", Consumers = [{ Peer = "dc1" }] },
  { Name = "products", Consumers = [{ Peer = "dc1" }] },
]
