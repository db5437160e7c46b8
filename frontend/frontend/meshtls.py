"""One request into the mesh as a given service: its leaf certificate, checked against Consul's CA.

It speaks to a sidecar the way another service's Envoy would, so the destination's Envoy applies
the intentions for that source.
"""

import http.client
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Identity:
    """A mesh identity in PEM: the CA roots to trust, and a service's leaf certificate and key."""

    ca_pem: str
    cert_pem: str
    key_pem: str

    @classmethod
    def from_consul(cls, roots: dict, leaf: dict) -> "Identity":
        """From Consul's answers to ``/v1/agent/connect/ca/roots`` and ``/v1/agent/connect/ca/leaf/<service>``."""
        return cls("".join(root["RootCert"] for root in roots["Roots"]), leaf["CertPEM"], leaf["PrivateKeyPEM"])

    def context(self) -> ssl.SSLContext:
        """A TLS client context presenting this identity and trusting only the mesh's CA."""
        # ssl loads a certificate chain only from files
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
            cert.write_text(self.cert_pem)
            key.write_text(self.key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False  # mesh certificates name SPIFFE identities, not hosts
            context.load_verify_locations(cadata=self.ca_pem)
            context.load_cert_chain(cert, key)
        return context


def request(host: str, port: int, method: str, path: str, identity: Identity, timeout: float = 5) -> dict:
    """``{"status", "body"}`` (the first 300 characters); status None when nothing answered."""
    connection = http.client.HTTPSConnection(host, port, context=identity.context(), timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return {"status": response.status, "body": response.read(300).decode("utf-8", "replace")}
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return {"status": None, "body": f"no answer: {type(exc).__name__}: {exc}"}
    finally:
        connection.close()


def allowed(answer: dict) -> bool:
    """Whether the destination's Envoy let the call through; it refuses with 403 ``RBAC: access denied``."""
    return answer["status"] is not None and not (answer["status"] == 403 and "RBAC" in answer["body"])

