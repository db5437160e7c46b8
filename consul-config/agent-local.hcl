# Local mode (make up): everything on this host's loopback; -data-dir under volumes/.
node_name   = "shop"
bind_addr   = "127.0.0.1"
client_addr = "127.0.0.1"
