"""How a service's requests are split between its versions, as the operator sees and moves it.

A service in several versions has a ``service-resolver`` with a subset per version (its instances'
``meta.version``; ``meshctl.entries`` derives it from the service definitions) and a
``service-splitter`` that weighs the subsets, in percent. Moving the weights is a write of that
splitter: Consul gives every caller's Envoy the new weights in one update, in which the routes are
swapped between requests, so no request is dropped by the move itself.

``python -m meshctl split`` and the frontend's mesh page act through this module with the token of
whoever makes the change; every write is a check-and-set on the splitter's ModifyIndex, so two
operators moving the weights at once cannot silently undo each other. The page also says which
split its operator saw (``seen``): weights moved since they opened it are not overwritten either.
"""

import re
from dataclasses import dataclass

import consul

from meshctl import entries

SPLITTER, RESOLVER = "service-splitter", "service-resolver"
WEIGHT = re.compile(r"^(?P<version>[a-z0-9][a-z0-9._-]*)=(?P<percent>\d{1,3}(\.\d{1,2})?)$")


class SplitError(Exception):
    """A split that cannot be made or read; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Split:
    """``service``'s weights in percent by version (every version its resolver has a subset for)."""

    service: str
    weights: dict[str, float]
    index: int | None  # the splitter's ModifyIndex; None when it has none yet

    def __str__(self) -> str:
        return " ".join(f"{version}={_percent(weight)}" for version, weight in self.weights.items())


def _percent(weight: float) -> str:
    return f"{weight:g}"


def _get(c: consul.Consul, kind: str, name: str) -> dict | None:
    try:
        return c.config.get(kind, name)
    except consul.NotFound:
        return None


def read(c: consul.Consul, service: str) -> Split:
    """``service``'s split as Consul holds it."""
    resolver = _get(c, RESOLVER, service)
    versions = sorted((resolver or {}).get("Subsets") or {})
    if len(versions) < 2:
        raise SplitError(404, f"{service} does not run in several versions (its service-resolver has "
                              f"{'no subsets' if not versions else 'one subset: ' + versions[0]})")
    splitter = _get(c, SPLITTER, service)
    if splitter is None:  # no splitter: everything to the resolver's default subset
        weights = {v: 100.0 if v == (resolver.get("DefaultSubset") or versions[0]) else 0.0 for v in versions}
        return Split(service, weights, None)
    weights = dict.fromkeys(versions, 0.0)
    for split in splitter.get("Splits") or []:
        weights[split.get("ServiceSubset") or "(no subset)"] = float(split.get("Weight") or 0)
    return Split(service, weights, splitter["ModifyIndex"])


def weights(asked: list[str], versions: list[str]) -> dict[str, float]:
    """The weights of every version from ``asked`` (``v2=10`` …, percent with at most two decimals):
    a version left out gets what the others leave of 100 when it is the only one left out, else 0."""
    given: dict[str, float] = {}
    for item in asked:
        match = WEIGHT.match(item.strip())
        if not match:
            raise SplitError(400, f"{item!r}: write VERSION=PERCENT, e.g. v2=10 (at most two decimals)")
        version, percent = match["version"], float(match["percent"])
        if version not in versions:
            raise SplitError(400, f"there is no version {version} (the versions: {', '.join(versions)})")
        if version in given:
            raise SplitError(400, f"{version} is given twice")
        if percent > 100:
            raise SplitError(400, f"{version}={match['percent']}: a weight is a percentage, at most 100")
        given[version] = percent
    left = [v for v in versions if v not in given]
    rest = round(100 - sum(given.values()), 2)
    if len(left) == 1 and rest >= 0:
        given[left[0]] = rest
    total = round(sum(given.values()), 2)
    if total != 100:
        raise SplitError(400, f"the weights add up to {_percent(total)}, not 100"
                              + (f" (give all but one of: {', '.join(left)})" if len(left) > 1 else ""))
    return {v: given.get(v, 0.0) for v in versions}


UNSEEN = object()  # ``change`` without a split read earlier to hold to


def change(c: consul.Consul, service: str, asked: list[str], seen: int | None | object = UNSEEN
           ) -> tuple[Split, Split]:
    """Move ``service``'s weights as ``asked`` says (see ``weights``); (before, after). With ``seen``
    (the ModifyIndex of the split the operator read, None for none yet), only if it is still that one."""
    before = read(c, service)
    if seen is not UNSEEN and seen != before.index:
        raise SplitError(409, f"{service}'s split changed since you read it (it is now {before}); "
                              "look at it again and retry")
    after = Split(service, weights(asked, list(before.weights)), None)
    # the entry meshctl.entries derives, with these weights; Consul takes Kind and Name from the URL
    body = {k: v for k, v in entries.splitter(service, list(after.weights), after.weights).items()
            if k not in ("Kind", "Name")}
    try:
        # cas=0: only if there is none yet
        written = c.config.set(SPLITTER, service, body, cas=before.index if before.index is not None else 0)
    except consul.ACLPermissionDenied:
        raise  # the token may not: the caller words it
    except consul.ConsulException as exc:
        raise SplitError(400, f"Consul refused the split: {exc}") from None
    if not written:
        raise SplitError(409, f"{service}'s split changed meanwhile; read it again and retry")
    return before, read(c, service)
