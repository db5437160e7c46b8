"""The Consul gate: Consul's HTTP API for callers that hold no client certificate, minus the leak.

Consul's HTTPS API answers only callers with a client certificate (``verify_incoming``), because in
Consul 1.16 its agent hands a cached mesh certificate, private key included, to anyone who asks
``GET /v1/agent/connect/ca/leaf/<service>``, token or not: the agent caches leaf certificates by
service name, and only a cache miss reaches the server's ACL check. Every sidecar's certificate is
in that cache as soon as it registers.

The frontend (its pages, and operators acting through it) and operators' tools reach Consul through
this gate instead. It forwards every request, with the caller's own token, to Consul's HTTPS API,
presenting the gate's client certificate, except:

- a leaf certificate for ``<service>`` is fetched only when Consul says the caller's token may
  write ``<service>`` (``/v1/internal/acl/authorize``), the check the agent skips on a cache hit;
- a path that is not in its plain form (``//``, ``.``/``..`` segments, escaped slashes or dots) is
  refused, so no spelling of the leaf path slips past the check to be cleaned up by Consul.

    python -m meshctl.gate --listen 127.0.0.1:8500 --consul https://127.0.0.1:8501 \\
        --ca-file consul-agent-ca.pem --cert-file gate.pem --key-file gate-key.pem

Stdlib only: it runs in the sidecar image, next to Envoy.
"""

import argparse
import http.client
import json
import logging
import posixpath
import re
import ssl
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("meshctl.gate")

LEAF = re.compile(r"^/v1/agent/connect/ca/leaf(?:/(?P<service>[^/]*))?/?$")
ESCAPED = re.compile(r"%(2f|2e|5c|25)", re.IGNORECASE)  # / . \ and % itself, escaped
# what goes through to Consul and back; hop-by-hop headers stay behind
REQUEST_HEADERS = ("X-Consul-Token", "Authorization", "Content-Type", "Accept", "If-None-Match")
RESPONSE_HEADERS = ("Content-Type", "X-Consul-Index", "X-Consul-Knownleader", "X-Consul-Lastcontact",
                    "X-Consul-Effective-Consistency", "X-Consul-Default-Acl-Policy", "X-Consul-Query-Backend",
                    "X-Cache", "Age", "Cache-Control", "Etag", "Last-Modified", "Location")
BLOCKING_TIMEOUT = 11 * 60  # Consul holds a blocking query up to 10 minutes (wait=10m at most)


class Upstream:
    """Consul's HTTPS API, reached with the gate's client certificate."""

    def __init__(self, address: str, ca_file: str, cert_file: str, key_file: str):
        parsed = urllib.parse.urlsplit(address)
        if parsed.scheme != "https":
            raise SystemExit(f"the gate forwards to Consul's HTTPS API only, not {address}")
        self.host, self.port = parsed.hostname, parsed.port or 8501
        self.context = ssl.create_default_context(cafile=ca_file)
        self.context.check_hostname = False  # Consul's certificate names server.dc1.consul, not a host
        self.context.load_cert_chain(cert_file, key_file)

    def request(self, method: str, target: str, body: bytes | None, headers: dict[str, str]):
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                 timeout=BLOCKING_TIMEOUT)
        connection.request(method, target, body=body, headers=headers)
        return connection, connection.getresponse()

    def may_write_service(self, token: str | None, service: str) -> bool:
        """Whether Consul says ``token`` has service:write on ``service``."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Consul-Token"] = token
        body = json.dumps([{"Resource": "service", "Segment": service, "Access": "write"}]).encode()
        connection, response = self.request("POST", "/v1/internal/acl/authorize", body, headers)
        try:
            answer = response.read()
            return response.status == 200 and bool(json.loads(answer)[0].get("Allow"))
        except (ValueError, IndexError, AttributeError, TypeError):
            return False
        finally:
            connection.close()


def caller_token(headers, query: str) -> str | None:
    """The token a request carries, wherever Consul would look for it."""
    if headers.get("X-Consul-Token"):
        return headers["X-Consul-Token"].strip()
    authorization = headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    tokens = urllib.parse.parse_qs(query).get("token")
    return tokens[-1] if tokens else None


def plain(path: str) -> bool:
    """Whether ``path`` is already in the form Consul's router would bring it to."""
    if "\\" in path or "//" in path or "%" in path:
        return False
    trimmed = path.rstrip("/") or "/"
    return path.startswith("/") and posixpath.normpath(trimmed) == trimmed


class Handler(BaseHTTPRequestHandler):
    upstream: Upstream
    protocol_version = "HTTP/1.1"
    server_version = "consul-gate"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # requests carry tokens in their query strings at times: no access log

    def _refuse(self, status: int, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self) -> None:
        raw_path, _, query = self.path.partition("?")
        path = urllib.parse.unquote(raw_path)  # what Consul routes on: %6c is an l there
        if ESCAPED.search(raw_path) or not plain(path):
            self._refuse(400, f"the Consul gate takes plain paths only, not {path[:200]!r}")
            return
        token = caller_token(self.headers, query)
        leaf = LEAF.match(path)
        if leaf:
            service = leaf.group("service") or ""
            if self.command not in ("GET", "HEAD") or not service:
                self._refuse(405 if service else 404, "only GET /v1/agent/connect/ca/leaf/<service>")
                return
            if not self.upstream.may_write_service(token, service):
                log.warning("refused a leaf certificate for %s: the token may not write it", service)
                self._refuse(403, f"Permission denied: a certificate for {service} needs a token "
                                  f"with service:write on {service}")
                return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: self.headers[name] for name in REQUEST_HEADERS if self.headers.get(name)}
        try:
            connection, response = self.upstream.request(self.command, self.path, body, headers)
        except OSError as err:
            self._refuse(502, f"the Consul gate could not reach Consul: {type(err).__name__}")
            return
        try:
            payload = response.read()
            self.send_response(response.status, response.reason)
            for name in RESPONSE_HEADERS:
                if response.getheader(name):
                    self.send_header(name, response.getheader(name))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        finally:
            connection.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _forward


def serve(listen: str, upstream: Upstream) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")
    handler = type("GateHandler", (Handler,), {"upstream": upstream})
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshctl.gate", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:8500")
    parser.add_argument("--consul", default="https://127.0.0.1:8501", help="Consul's HTTPS API")
    parser.add_argument("--ca-file", required=True, help="Consul's CA certificate")
    parser.add_argument("--cert-file", required=True, help="the gate's client certificate")
    parser.add_argument("--key-file", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gate %(levelname)s %(message)s", stream=sys.stderr)
    server = serve(args.listen, Upstream(args.consul, args.ca_file, args.cert_file, args.key_file))
    log.info("forwarding %s to %s", args.listen, args.consul)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
