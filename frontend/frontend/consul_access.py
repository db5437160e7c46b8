"""How the frontend reaches Consul's HTTP API, and what it answers when Consul does not."""

import consul
from flask import current_app

from meshctl import intentions
from shopcommon import APIError

# what a call through py-consul raises when Consul is down, unreachable or answers with an error
ERRORS = (consul.ConsulException, OSError)


def client() -> consul.Consul:
    """A py-consul client for ``CONSUL_HTTP_ADDR``; cheap, so one per request."""
    return intentions.client(current_app.config["CONSUL_HTTP_ADDR"])


def unavailable(exc: Exception) -> APIError:
    """The 503 naming Consul, for an error out of ``ERRORS``."""
    return APIError(503, "consul_unavailable", f"Consul at {current_app.config['CONSUL_HTTP_ADDR']} "
                    f"did not answer ({type(exc).__name__})", {"upstream": "consul"})
