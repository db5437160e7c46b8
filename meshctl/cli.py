"""``python -m meshctl up|down|status|plan|intentions``: the local mesh, and the operators' intentions.

The mesh's shape comes from Consul's service definitions in ``consul-config/services``; see
``meshctl.topology``. Nothing here repeats a port or an upstream.
"""

import argparse
import json
import logging
import os
import sys


def intentions_command(args) -> int:
    """Operators' view of the intentions, through py-consul (the same model as the frontend's page)."""
    from meshctl import consul_api
    from meshctl import intentions as model

    c = model.client(os.environ.get("CONSUL_HTTP_ADDR", consul_api.CONSUL_HTTP))
    try:
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
    except model.IntentionError as err:
        print(f"intentions: {err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"intentions: Consul does not answer ({err})", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("meshctl").info(json.dumps({
        "msg": "intention changed", "operator": os.environ.get("USER", "cli"),
        "intention": f"{args.source} -> {args.destination}", "before": before, "after": after}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshctl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start whatever part of the mesh is not running")
    up_parser.add_argument("--reset-config", action="store_true",
                           help="rewrite every config entry (intentions!) from consul-config/")
    commands.add_parser("down", help="stop everything `up` started")
    commands.add_parser("status", help="each service's and sidecar's health from Consul")
    commands.add_parser("plan", help="what `up` starts, derived from the service definitions")
    intentions = commands.add_parser("intentions", help="list, allow, deny or delete intentions")
    verbs = intentions.add_subparsers(dest="action", required=True)
    verbs.add_parser("list", help="every intention, most specific first")
    for verb, text in (("allow", "let SOURCE call DESTINATION (an L4 allow)"),
                       ("deny", "refuse every call from SOURCE to DESTINATION"),
                       ("delete", "remove the intention; the default (* -> * deny) applies")):
        sub = verbs.add_parser(verb, help=text)
        sub.add_argument("source")
        sub.add_argument("destination")
    args = parser.parse_args(argv)
    if args.command == "intentions":
        return intentions_command(args)

    from meshctl import local
    from meshctl.topology import TopologyError
    try:
        if args.command == "up":
            return local.up(reset_config=args.reset_config)
        return {"down": local.down, "status": local.status, "plan": local.plan}[args.command]()
    except TopologyError as err:
        print(f"meshctl: {err}", file=sys.stderr)
        return 2
