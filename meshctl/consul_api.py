"""The few Consul HTTP API calls the runner needs (stdlib only, so `make down` works without a venv)."""

import json
import urllib.error
import urllib.request

CONSUL_HTTP = "http://127.0.0.1:8500"


def get(path: str, timeout: float = 2.0):
    """Decoded JSON from Consul, or None when it does not answer."""
    try:
        with urllib.request.urlopen(CONSUL_HTTP + path, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def leader() -> str:
    """The raft leader's address, or '' while there is none."""
    return get("/v1/status/leader") or ""


def checks() -> dict[str, dict]:
    """Every check on the local agent, by check id."""
    return get("/v1/agent/checks") or {}


def service(service_id: str) -> dict | None:
    return get(f"/v1/agent/service/{service_id}")


def config_entry(kind: str, name: str) -> dict | None:
    return get(f"/v1/config/{kind}/{urllib.request.quote(name, safe='')}")
