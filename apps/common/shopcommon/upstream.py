"""Calls to another service through this service's sidecar upstream on localhost.

Every call has a timeout and forwards the request id. Whatever keeps the call from reaching a
working service (refused connection, timeout, the mesh denying it, the service erring) becomes a 503
that names the upstream, so callers fail fast and know which part is missing.
"""

import threading
from dataclasses import dataclass

import requests

from shopcommon.errors import UPSTREAM_DENIED, UPSTREAM_UNAVAILABLE, APIError
from shopcommon.logs import REQUEST_ID_HEADER, request_id
from shopcommon.servedby import HEADER as SERVED_BY, record_upstream

_local = threading.local()


def _session() -> requests.Session:
    # requests.Session is not thread-safe; one per thread still reuses connections
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = False  # never route loopback mesh traffic through a proxy
    return session


class UpstreamUnavailable(APIError):
    """503 naming the upstream: no answer from a working service, so whether it acted is unknown."""

    def __init__(self, upstream: str, message: str, detail: str = ""):
        fields = {"upstream": upstream, "detail": detail} if detail else {"upstream": upstream}
        super().__init__(503, UPSTREAM_UNAVAILABLE, message, fields)


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str
    connect_timeout: float = 1.0
    read_timeout: float = 3.0

    def call(self, method: str, path: str, json: dict | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        """The service's own (JSON) answer, whatever its status; a 503 APIError when it gave none."""
        headers = dict(headers or {})
        rid = request_id()
        if rid:
            headers[REQUEST_ID_HEADER] = rid
        try:
            response = _session().request(
                method, self.base_url + path, json=json, headers=headers,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except requests.Timeout:
            raise self._unavailable(f"{self.name} did not answer within {self.read_timeout:g}s") from None
        except requests.ConnectionError:
            raise self._unavailable(f"{self.name} could not be reached through the mesh") from None
        except requests.RequestException as exc:
            # an answer cut off half-way (its process died while sending it): whether it acted is unknown
            raise self._unavailable(f"{self.name}'s answer broke off ({type(exc).__name__})") from None
        record_upstream(response.headers.get(SERVED_BY))
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        if response.status_code == 403 and not is_json:
            # Envoy's RBAC filter answers 403 in plain text when an intention denies the call
            raise APIError(
                503, UPSTREAM_DENIED,
                f"the mesh denied the call to {self.name} (a Consul intention forbids it)",
                {"upstream": self.name, "detail": response.text[:200]},
            )
        if not is_json:
            # the service always answers JSON; anything else is Envoy speaking (no healthy upstream,
            # connection refused behind it, ...) or something that is not our service at all
            detail = response.text[:200].strip()
            said = f": {detail[:80]}" if detail else ""
            raise self._unavailable(f"{self.name} is unavailable (HTTP {response.status_code}{said})", detail)
        return response

    def _unavailable(self, message: str, detail: str = "") -> UpstreamUnavailable:
        return UpstreamUnavailable(self.name, message, detail)
