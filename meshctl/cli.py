"""``python -m meshctl up|down|status|plan|token|entries|metrics-up|traces-up|intentions|split``: the local mesh, its config entries, and the operators' intentions and splits.

The mesh's shape comes from Consul's service definitions in ``consul-config/services``; see
``meshctl.topology``. Nothing here repeats a port or an upstream.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def intentions_command(args) -> int:
    """Operators' view of the intentions, through py-consul (the same model as the frontend's page),
    acting with the operator's own ACL token: Consul decides what it may change."""
    import consul

    from meshctl import intentions as model

    try:
        # the consul CLI's default address, which is local mode's too
        c = model.client(os.environ.get("CONSUL_HTTP_ADDR") or "http://127.0.0.1:8500", token=_token_from_env(),
                         cert=_client_cert_from_env())
        if args.action == "list":
            print(f"{'source':<12}{'destination':<14}{'decision':<9}permissions")
            for i in model.list_intentions(c):
                perms = "; ".join(f"{p['Action']} {','.join((p.get('HTTP') or {}).get('Methods', ['*']))} "
                                  f"{(p.get('HTTP') or {}).get('PathPrefix', '')}".strip() for p in i.permissions)
                print(f"{i.source:<12}{i.destination:<14}{i.action or 'L7':<9}{perms}")
            return 0
        if args.action == "delete":
            before, after = model.delete_intention(c, args.source, args.destination), None
        else:
            before, after = model.set_intention(c, args.source, args.destination, args.action)
    except (model.IntentionError, TokenFileError) as err:
        return _failed(str(err))
    except consul.ACLPermissionDenied as err:
        return _failed(f"Consul refused: {err}")
    except consul.ConsulException as err:
        return _failed(f"Consul answered with an error: {err}")
    except OSError as err:
        return _failed(f"Consul does not answer ({err})")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("meshctl").info(json.dumps({
        "msg": "intention changed", "operator": os.environ.get("USER", "cli"),
        "intention": f"{args.source} -> {args.destination}", "before": before, "after": after}))
    return 0


def _failed(why: str, command: str = "intentions") -> int:
    """Say on stderr why an operator's command failed; its exit status."""
    print(f"{command}: {why}", file=sys.stderr)
    return 1


def split_command(args) -> int:
    """A service's split between its versions: print it, or move it (``meshctl.splits``), acting with
    the operator's own ACL token as the intentions command does."""
    import consul

    from meshctl import intentions, splits

    try:
        c = intentions.client(os.environ.get("CONSUL_HTTP_ADDR") or "http://127.0.0.1:8500", token=_token_from_env(),
                              cert=_client_cert_from_env())
        if not args.weights:
            print(f"{args.service}: {splits.read(c, args.service)}")
            return 0
        before, after = splits.change(c, args.service, args.weights)
    except (splits.SplitError, TokenFileError) as err:
        return _failed(str(err), "split")
    except consul.ACLPermissionDenied as err:
        return _failed(f"Consul refused: {err}", "split")
    except consul.ConsulException as err:
        return _failed(f"Consul answered with an error: {err}", "split")
    except OSError as err:
        return _failed(f"Consul does not answer ({err})", "split")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("meshctl").info(json.dumps({
        "msg": "split changed", "operator": os.environ.get("USER", "cli"), "service": args.service,
        "before": before.weights, "after": after.weights}))
    print(f"{args.service}: {before} -> {after}")
    return 0


def entries_command(args) -> int:
    """Every config entry the mesh writes and where it comes from; or one of them as the JSON Consul
    is given, for `consul config write -`."""
    from meshctl import entries
    from meshctl.local import MESH_CONFIG

    config = entries.load(MESH_CONFIG)
    if not args.entry:
        for entry in config:
            print(f"{entry.key:<34}{entry.source}")
        return 0
    found = {e.key: e for e in config}
    if args.entry not in found:
        print(f"entries: no entry {args.entry!r}; there are: {', '.join(found)}", file=sys.stderr)
        return 1
    print(json.dumps(found[args.entry].body, indent=2))
    return 0


class TokenFileError(Exception):
    """``CONSUL_HTTP_TOKEN_FILE`` names a file that cannot be read."""


def _token_from_env() -> str | None:
    """The ACL token as the consul CLI finds it: ``CONSUL_HTTP_TOKEN_FILE`` when set (it wins, as
    there), else ``CONSUL_HTTP_TOKEN``; None for anonymous."""
    path = os.environ.get("CONSUL_HTTP_TOKEN_FILE", "").strip()
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise TokenFileError(f"CONSUL_HTTP_TOKEN_FILE {path} cannot be read: {exc.strerror or exc}") from None
        if token:
            return token
    return os.environ.get("CONSUL_HTTP_TOKEN", "").strip() or None


def _client_cert_from_env() -> tuple[str, str] | None:
    """``CONSUL_CLIENT_CERT`` and ``CONSUL_CLIENT_KEY``, for a Consul that asks for a client certificate;
    like the consul CLI, only the two together count."""
    cert, key = os.environ.get("CONSUL_CLIENT_CERT", "").strip(), os.environ.get("CONSUL_CLIENT_KEY", "").strip()
    return (cert, key) if cert and key else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshctl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start whatever part of the mesh is not running")
    up_parser.add_argument("--reset-config", action="store_true",
                           help="rewrite every config entry (intentions!) from consul-config/")
    commands.add_parser("down", help="stop everything `up` started")
    commands.add_parser("status", help="each service's and sidecar's health from Consul")
    commands.add_parser("plan", help="what `up` starts, derived from the service definitions")
    commands.add_parser("token", help="print the management token `up` made (for Consul's UI and CLI)")
    listing = commands.add_parser("entries", help="the config entries `up` writes (consul-config/): list, or print one")
    listing.add_argument("entry", nargs="?", help="KIND/NAME, e.g. service-router/products: print it as JSON")
    commands.add_parser("metrics-up", help="start Prometheus (`up` does; its background build, once built)")
    commands.add_parser("traces-up", help="start Jaeger (`up` does; its background build, once built)")
    intentions = commands.add_parser("intentions", help="list, allow, deny or delete intentions")
    verbs = intentions.add_subparsers(dest="action", required=True)
    verbs.add_parser("list", help="every intention, most specific first")
    for verb, text in (("allow", "let SOURCE call DESTINATION (an L4 allow)"),
                       ("deny", "refuse every call from SOURCE to DESTINATION"),
                       ("delete", "remove the intention; the default (* -> * deny) applies")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("source")
        sub.add_argument("destination")
    split = commands.add_parser("split", help="print or move a service's split between its versions")
    split.add_argument("service", help="a service in several versions, e.g. products")
    split.add_argument("weights", nargs="*", metavar="VERSION=PERCENT",
                       help="e.g. v2=10 (the other version gets the rest of 100); none: print the split")
    args = parser.parse_args(argv)
    if args.command == "intentions":
        return intentions_command(args)
    if args.command == "split":
        return split_command(args)

    from meshctl import local
    from meshctl.entries import EntriesError
    from meshctl.topology import TopologyError
    try:
        if args.command == "entries":
            return entries_command(args)
        if args.command == "up":
            return local.up(reset_config=args.reset_config)
        return {"down": local.down, "status": local.status, "plan": local.plan, "token": local.token,
                "metrics-up": lambda: local.companion_up("metrics"),
                "traces-up": lambda: local.companion_up("traces")}[args.command]()
    except (TopologyError, EntriesError) as err:
        print(f"meshctl: {err}", file=sys.stderr)
        return 2
