"""Spellings of a path an intention denies, as an attacker would write them, and how to send them as
written (``requests`` would rewrite most of them before sending).

CVE-2024-10005's class: Envoy's RBAC filter matched the path as sent while the app routed the path it
decoded, so ``/products/%72eservations/<id>`` passed a deny of ``/products/reservations``. What Envoy's
``normalize_path``, ``merge_slashes`` and escaped-slash action exist for, and what an app might fold
differently from the sidecar, is what is spelled here: escapes of characters that need none (either
hex case), escaped and back slashes, dot segments plain and escaped, repeated slashes, case, double
escapes and path parameters. Every spelling must be refused, at the receiving sidecar (403; or 400
for one Envoy refuses outright) or by the app (400), and never answered 2xx.
"""

import http.client
import json
import re
import ssl
import subprocess
from pathlib import Path
from urllib.parse import unquote

# the answers that refuse: the sidecar's RBAC (403), Envoy's or the app's refusal of the spelling (400)
REFUSED = (400, 403)

# every deny the intentions hold between the services: (source, destination, method, the denied
# path, what a spelling reads as when it is that path: a prefix ending in "*", else the path itself).
# {rid}: a reservation's id
DENIED = [
    # the one deny that is not a catch-all: the frontend never touches stock reservations
    ("frontend", "products", "GET", "/products/reservations/{rid}", "/products/reservations*"),
    ("frontend", "products", "DELETE", "/products/reservations/{rid}", "/products/reservations*"),
    # the catch-alls: every source with L7 permissions may do only what they list, and no app's
    # /metrics (Prometheus reads it through the expose listener) is among them
    ("frontend", "users", "GET", "/metrics", "/metrics"),
    ("frontend", "orders", "GET", "/metrics", "/metrics"),
    ("frontend", "products", "GET", "/metrics", "/metrics"),
    ("orders", "users", "GET", "/metrics", "/metrics"),
    ("orders", "products", "GET", "/metrics", "/metrics"),
    # orders may read one user (/api/users/<id>), never the list
    ("orders", "users", "GET", "/api/users", "/api/users"),
]
# what the ingress gateway may not ask of the frontend (intentions-frontend.hcl)
INGRESS_DENIED = ("GET", "/metrics", "/metrics")
# Envoy's settings that normalize a request before any filter sees it (consul-config/patches/)
NORMALIZING = {"normalize_path": True, "merge_slashes": True, "path_with_escaped_slashes_action": "REJECT_REQUEST"}


def spellings(path: str) -> list[str]:
    """``path`` (``/a/b/c``, plain) written every way that still reads, to some reader, as ``path``."""
    segments = path.strip("/").split("/")

    def joined(parts, sep="/"):
        return "/" + sep.join(parts)

    found = []
    for n, segment in enumerate(segments):
        head, tail = segments[:n], segments[n + 1:]
        first = segment[0]
        for escape in (f"%{ord(first):02x}", f"%{ord(first):02X}"):  # an escape that needs no escaping
            found.append(joined([*head, escape + segment[1:], *tail]))
        found.append(joined([*head, "".join(f"%{ord(c):02X}" for c in segment), *tail]))  # every character
        found.append(joined([*head, f"%25{ord(first):02X}{segment[1:]}", *tail]))  # escaped twice
        found.append(joined([*head, segment.upper(), *tail]))
        # the slash in front of this segment, spelled otherwise
        before, after = joined(head) if head else "", "/".join([segment, *tail])
        for slash in ("%2F", "%2f", "%5C", "%5c", "\\", "//", "/./", "/%2e/", "/%2E/", "/x/../", "/x/%2e%2e/",
                      "/x/.%2e/", "/;x/", "/x;/../"):
            found.append(f"{before}{slash}{after}")
    found += [path + "/", path + "/.", path + "/..%2F" + segments[-1], path + ";x", path + "%3Bx",
              path + "?x=%2F", path + "#x"]
    return sorted(set(found) - {path})


def folded(path: str) -> str:
    """What a lenient reader could take ``path`` for: its query and fragment dropped, every escape
    decoded once, backslashes as slashes, repeated slashes merged, dot segments resolved (RFC 3986,
    5.2.4: a last ``.`` or ``..`` leaves a trailing slash). Path parameters (``;x``) stay: Envoy and
    werkzeug both keep them in the segment. A spelling that folds to a denied path must be refused."""
    path = unquote(re.split(r"[?#]", path, maxsplit=1)[0]).replace("\\", "/")
    segments = path.split("/")
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            kept = kept[:-1]
        elif segment not in ("", "."):
            kept.append(segment)
    trailing = bool(kept) and (path.endswith("/") or segments[-1] in (".", ".."))
    return "/" + "/".join(kept) + ("/" if trailing else "")


def request(host: str, port: int, method: str, path: str, headers: dict | None = None, body: dict | None = None,
            context: ssl.SSLContext | None = None, timeout: float = 5) -> tuple[int | None, str]:
    """``method path`` sent exactly as written, over TLS with ``context`` (a mesh identity's: as that
    service) or plain HTTP: (status, first 4000 characters of the body); status None when nothing answered."""
    if context is None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {**({"Content-Type": "application/json", "Content-Length": str(len(data))} if data else {}),
                            **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(data)
        answer = connection.getresponse()
        return answer.status, answer.read(4000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, f"no answer: {type(exc).__name__}: {exc}"
    finally:
        connection.close()


def through_the_mesh(container: str, source: str, destination: str, method: str, path: str,
                     spell: bool = True) -> tuple[tuple, list[tuple]]:
    """``path`` and (``spell``) every spelling of it sent from inside ``source``'s app container through
    its own sidecar's upstream listener for ``destination`` (so with ``source``'s identity): the plain
    path's row and the spellings' rows, each ``(method, path, status, body)``."""
    from meshctl import topology  # the upstream's port, from the service definition

    mesh = topology.load(Path(__file__).resolve().parents[1] / "consul-config")
    port = next(u.port for u in mesh[source].upstreams if u.service == destination)
    asks = [(method, p) for p in [path, *(spellings(path) if spell else [])]]
    rows = [(m, p, *answer) for (m, p), answer in zip(asks, request_in(container, port, asks))]
    return rows[0], rows[1:]


def request_in(container: str, port: int, asks: list[tuple[str, str]]) -> list[tuple[int | None, str]]:
    """Each ``(method, path)`` of ``asks`` sent as written to ``127.0.0.1:port`` from inside
    ``container`` (through its own sidecar's upstream listener, with its identity)."""
    probe = subprocess.run(["docker", "exec", container, "python3", "-c", _IN_CONTAINER, str(port), json.dumps(asks)],
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    return [tuple(answer) for answer in json.loads(probe.stdout)]


# run inside a container: argv[1] the port on its loopback, argv[2] the (method, path) pairs
_IN_CONTAINER = r"""
import http.client, json, sys
answers = []
for method, path in json.loads(sys.argv[2]):
    connection = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        answer = connection.getresponse()
        answers.append((answer.status, answer.read(4000).decode("utf-8", "replace")))
    except Exception as exc:
        answers.append((None, f"no answer: {type(exc).__name__}: {exc}"))
    finally:
        connection.close()
print(json.dumps(answers))
"""


def failures(rows: list[tuple[str, str, int | None, str]], reads_as: str) -> list[tuple]:
    """The rows ``(method, path, status, body)`` that show a deny not holding: one answered 2xx or
    3xx, or not at all, and one that reads as the denied path (``reads_as``) but was not refused."""
    def reads_as_denied(path: str) -> bool:
        return folded(path).startswith(reads_as[:-1]) if reads_as.endswith("*") else folded(path) == reads_as

    return [row for row in rows if row[2] is None or 200 <= row[2] < 400
            or (reads_as_denied(row[1]) and row[2] not in REFUSED)]


def managers(config_dump: dict, listener: str) -> list[dict]:
    """The HTTP connection managers of the listeners named ``listener…`` in an Envoy's config dump."""
    return [f["typed_config"] for c in config_dump["configs"] if c["name"].startswith(listener)
            for chain in c["active_state"]["listener"]["filter_chains"] for f in chain["filters"]
            if f["name"] == "envoy.filters.network.http_connection_manager"]


def normalization(manager: dict) -> dict:
    """What of ``NORMALIZING`` and the header rule a connection manager holds."""
    return {**{key: manager.get(key) for key in NORMALIZING},
            "headers_with_underscores_action": manager.get("common_http_protocol_options", {}).get(
                "headers_with_underscores_action")}


def table(rows: list[tuple[str, str, int | None, str]]) -> str:
    """The answers, one line each, for a test's output and for its failure message."""
    return "\n".join(f"  {status!s:>4} {method:<6} {path}   {body[:60]!r}" for method, path, status, body in rows)
