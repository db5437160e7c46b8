"""Consul intentions as the operator sees them: one row per source → destination.

Intentions live in `service-intentions` config entries, one per destination, each listing its
sources with either an L4 `Action` or L7 `Permissions`. Every write is a check-and-set on the
entry's ModifyIndex, so two operators editing at once cannot silently undo each other.

The frontend's intentions pages and `python -m meshctl intentions` both act through this module,
each with the ACL token of whoever makes the change: Consul decides what that token may change, and
its refusal (403) comes out as py-consul's ``consul.ACLPermissionDenied``, for the caller to word.
"""

import os
from dataclasses import dataclass, field

import consul

KIND = "service-intentions"


class IntentionError(Exception):
    """A change Consul refused or that lost a race; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Intention:
    source: str
    destination: str
    action: str | None  # "allow" / "deny" for L4; None when it has L7 permissions
    permissions: list = field(default_factory=list)
    precedence: int | None = None

    @property
    def kind(self) -> str:
        return "L7" if self.permissions else "L4"

    def to_dict(self) -> dict:
        return {"source": self.source, "destination": self.destination, "action": self.action,
                "permissions": self.permissions, "kind": self.kind, "precedence": self.precedence}


def client(address: str, ca_file: str | None = None, token: str | None = None,
           cert: tuple[str, str] | None = None) -> consul.Consul:
    """A py-consul client for ``http(s)://host:port`` acting with ACL ``token`` (None: anonymous).

    Over HTTPS it trusts only ``ca_file`` (default ``CONSUL_CACERT``, as the consul CLI reads it) for
    Consul's certificate, and presents ``cert`` (certificate file, key file) when given one.
    """
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rstrip("/").partition(":")
    ca_file = ca_file or os.environ.get("CONSUL_CACERT") or True
    c = consul.Consul(host=host, port=int(port or 8500), scheme=scheme or "http", verify=ca_file,
                      cert=cert, connections_timeout=5)
    # py-consul prefers CONSUL_HTTP_TOKEN from the environment to the token it is given: a client
    # made for one operator must act with that operator's token, whatever the environment holds
    c.token = token
    return c


def valid_name(name: str) -> bool:
    """Whether ``name`` is a service name (letters, digits, - and _) or ``*``; it goes into Consul's URLs."""
    return bool(name) and len(name) <= 64 and all(ch.isalnum() or ch in "-_*" for ch in name)


def _check_names(source: str, destination: str) -> None:
    for name, value in (("source", source), ("destination", destination)):
        if not valid_name(value):
            raise IntentionError(400, f"{name} must be a service name (letters, digits, - and _) or *")


def _entries(c: consul.Consul) -> list[dict]:
    return c.config.list(KIND) or []


def list_intentions(c: consul.Consul) -> list[Intention]:
    """Every intention, most specific destination first, then by source."""
    rows = []
    for entry in _entries(c):
        for source in entry.get("Sources") or []:
            rows.append(Intention(source["Name"], entry["Name"], source.get("Action"),
                                  source.get("Permissions") or [], source.get("Precedence")))
    return sorted(rows, key=lambda i: (i.destination == "*", i.destination, i.source == "*", i.source))


def _entry(c: consul.Consul, destination: str) -> dict | None:
    try:
        return c.config.get(KIND, destination)
    except consul.NotFound:
        return None


def _write(c: consul.Consul, entry: dict, destination: str, index: int | None) -> None:
    body = {k: v for k, v in entry.items() if k not in ("Kind", "Name", "CreateIndex", "ModifyIndex")}
    # cas=0 means "only if it does not exist yet"
    if not c.config.set(KIND, destination, body, cas=index if index is not None else 0):
        raise IntentionError(409, f"the intentions for {destination} changed meanwhile; reload and try again")


def set_intention(c: consul.Consul, source: str, destination: str, action: str | None,
                  permissions: list | None = None) -> tuple[dict | None, dict]:
    """Make ``source`` → ``destination`` allow, deny, or follow L7 ``permissions``; (before, after)."""
    _check_names(source, destination)
    if permissions:
        action = None
    elif action not in ("allow", "deny"):
        raise IntentionError(400, "action must be allow or deny, or give L7 permissions")
    entry = _entry(c, destination)
    index = entry["ModifyIndex"] if entry else None
    entry = entry or {"Kind": KIND, "Name": destination, "Sources": []}
    sources = entry.setdefault("Sources", []) or []
    before = next((s for s in sources if s["Name"] == source), None)
    after = {"Name": source}
    if action:
        after["Action"] = action
    else:
        after["Permissions"] = permissions
    if before and before.get("Description"):
        after["Description"] = before["Description"]
    entry["Sources"] = [s for s in sources if s["Name"] != source] + [after]
    try:
        _write(c, entry, destination, index)
    except consul.ACLPermissionDenied:
        raise  # the token may not: not a bad intention
    except consul.ConsulException as exc:
        raise IntentionError(400, f"Consul refused the intention: {exc}") from None
    return before, after


def delete_intention(c: consul.Consul, source: str, destination: str) -> dict:
    """Remove ``source`` → ``destination``; returns what was removed."""
    _check_names(source, destination)
    entry = _entry(c, destination)
    sources = (entry or {}).get("Sources") or []
    removed = next((s for s in sources if s["Name"] == source), None)
    if removed is None:
        raise IntentionError(404, f"there is no intention {source} → {destination}")
    remaining = [s for s in sources if s["Name"] != source]
    if remaining:
        entry["Sources"] = remaining
        _write(c, entry, destination, entry["ModifyIndex"])
    elif not c.config.delete(KIND, destination, cas=entry["ModifyIndex"]):
        raise IntentionError(409, f"the intentions for {destination} changed meanwhile; reload and try again")
    return removed
