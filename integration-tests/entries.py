"""Writing Consul config entries straight through its API, for tests that change intentions."""

import copy

READ_ONLY = ("Kind", "Name", "CreateIndex", "ModifyIndex")


def put_entry(client, entry: dict) -> bool:
    """Write ``entry`` (as read from Consul) back, whatever it holds now."""
    body = {k: v for k, v in entry.items() if k not in READ_ONLY}
    return client.config.set(entry["Kind"], entry["Name"], body)


def with_source_denied(entry: dict, source: str) -> dict:
    """A copy of a service-intentions entry in which ``source`` is denied outright (L4)."""
    denied = copy.deepcopy(entry)
    for item in denied["Sources"]:
        if item["Name"] == source:
            item.pop("Permissions", None)
            item["Action"] = "deny"
    return denied
