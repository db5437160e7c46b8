"""Consul's HTTP API as the runner and the init steps call it (stdlib only, so `make down` works
without a venv): over HTTPS, trusting this mesh's CA only, presenting a client certificate, and
sending an ACL token when given one."""

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class ConsulError(Exception):
    """Consul answered with an error status; ``status`` and Consul's own words are kept."""

    def __init__(self, status: int, message: str, path: str):
        super().__init__(f"Consul answered {status} to {path}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Consul:
    address: str  # https://host:port
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    token: str | None = None

    def with_token(self, token: str | None) -> "Consul":
        return Consul(self.address, self.ca_file, self.cert_file, self.key_file, token)

    def _context(self) -> ssl.SSLContext | None:
        if not self.address.startswith("https:"):
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.check_hostname = False  # the server certificate names server.dc1.consul, not the host
        if self.cert_file:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def call(self, method: str, path: str, body=None, timeout: float = 10.0):
        """Consul's decoded JSON answer; ``ConsulError`` for an error status, ``OSError`` when it
        does not answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.address + path, data=data, method=method)
        if self.token:
            request.add_header("X-Consul-Token", self.token)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context()) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise ConsulError(err.code, err.read().decode("utf-8", "replace").strip(), path) from None
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return raw.decode("utf-8", "replace")

    def get(self, path: str, timeout: float = 2.0):
        """Decoded JSON from Consul, or None when it does not answer or refuses."""
        try:
            return self.call("GET", path, timeout=timeout)
        except (ConsulError, OSError, ValueError):
            return None

    def leader(self) -> str:
        """The raft leader's address, or '' while there is none (needs no token)."""
        return self.get("/v1/status/leader") or ""

    def checks(self) -> dict[str, dict]:
        """Every check on the local agent, by check id (those the token may read)."""
        return self.get("/v1/agent/checks") or {}

    def service(self, service_id: str) -> dict | None:
        return self.get(f"/v1/agent/service/{urllib.request.quote(service_id, safe='')}")

    def config_entry(self, kind: str, name: str) -> dict | None:
        return self.get(f"/v1/config/{kind}/{urllib.request.quote(name, safe='')}")
