"""Local mode: run Consul, every service and its Envoy sidecar as background processes."""
