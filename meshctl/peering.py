"""``python3 -m meshctl.peering up|establish|status|delete|down``: two datacenters, peered
(docs/peering.md). Standard library only, so the system's python3 runs it.

  up         bring up dc1 (cluster.yml, built) and dc2 (dc2.yml), then ``establish``
  establish  peer them through their mesh gateways, and have products fail over from dc1 to dc2;
             nothing is done that is done already
  status     each side's peerings: state, what it imports and exports
  delete     products' failover removed, and the peering deleted on both sides
  down       both datacenters taken down (their data kept, as `docker compose down` does)

Each step runs in a datacenter's own mesh-init container (`meshctl.container peer-…`), which holds
that datacenter's management token: dc1's makes the peering token, this process reads it from that
container's output and hands it to dc2's on its input. The token is never printed or written down.

The projects are ``DC1_PROJECT`` (shop-cluster) and ``DC2_PROJECT`` (shop-dc2); dc2.yml finds dc1's
networks by the first.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DC1, DC2 = "dc1", "dc2"
FILES = {DC1: "cluster.yml", DC2: "dc2.yml"}
FAILS_OVER = "products"  # the service whose resolver in dc1 fails over to dc2's
ACTIVE_TIMEOUT = float(os.environ.get("PEERING_TIMEOUT", "120"))
# How long one try may take to become ACTIVE before a new token is asked for, and how many tries.
# dc2's server dials through its mesh gateway first and falls back to dc1's gateway's address,
# which it cannot reach (only the gateways share a network): a first dial made before the gateways
# hold the peering's routes leaves it in gRPC's growing back-off (measured: ACTIVE after 53 s, 88 s
# and once 149 s). A new token starts the dialling afresh, with the routes in place.
TRY_TIMEOUT, TRIES = 60.0, 3


class PeeringFailed(Exception):
    pass


def projects() -> dict[str, str]:
    return {DC1: os.environ.get("DC1_PROJECT", "shop-cluster"), DC2: os.environ.get("DC2_PROJECT", "shop-dc2")}


def compose(dc: str, *args: str, stdin: str | None = None, capture: bool = True,
            timeout: float = 600) -> subprocess.CompletedProcess:
    env = os.environ | {"DC1_PROJECT": projects()[DC1]}
    env.pop("COMPOSE_PROJECT_NAME", None)  # each file's project is said with -p
    return subprocess.run(["docker", "compose", "-p", projects()[dc], "-f", str(REPO / FILES[dc]), *args],
                          cwd=REPO, env=env, input=stdin, capture_output=capture, text=True, timeout=timeout)


def in_mesh_init(dc: str, *args: str, stdin: str | None = None) -> str:
    """What ``meshctl.container <args>`` prints in ``dc``'s mesh-init; PeeringFailed with its error."""
    result = compose(dc, "run", "--rm", "--no-deps", "-T", "mesh-init", *args, stdin=stdin, timeout=180)
    if result.returncode != 0:
        raise PeeringFailed(f"{dc}: {args[0]} failed: {result.stderr.strip()[-1500:]}")
    return result.stdout


def peerings(dc: str) -> dict[str, list[str]]:
    """{peer: [state, imports, exports]} as ``dc``'s mesh-init lists them."""
    found = {}
    for line in in_mesh_init(dc, "peerings").splitlines():
        name, state, rest = line.split(None, 2)
        found[name] = [state, rest]
    return found


def peer_of(dc: str) -> str:
    return DC2 if dc == DC1 else DC1


def active() -> bool:
    return all(peerings(dc).get(peer_of(dc), ["none"])[0] == "ACTIVE" for dc in (DC1, DC2))


def wait_active(timeout: float) -> dict[str, str]:
    """Each side's state of the peering, printed as it changes, until both are ACTIVE or ``timeout``."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        states = {dc: peerings(dc).get(peer_of(dc), ["none"])[0] for dc in (DC1, DC2)}
        if states != last:
            print("    " + ", ".join(f"{dc}: {state}" for dc, state in states.items()), flush=True)
            last = states
        if set(states.values()) == {"ACTIVE"} or time.monotonic() > deadline:
            return states
        time.sleep(2)


def establish() -> int:
    if active():
        print(f"==> {DC1} and {DC2} are peered already (ACTIVE on both sides)")
    else:
        started = time.monotonic()
        print(f"==> peering {DC1} and {DC2} through their mesh gateways")
        for attempt in range(1, TRIES + 1):
            # dc1 accepts: a token naming dc2; dc2 dials with it, naming dc1. Carried in memory only.
            token = in_mesh_init(DC1, "peer-token", DC2).strip().splitlines()[-1]
            in_mesh_init(DC2, "peer-establish", DC1, stdin=token + "\n")
            del token
            states = wait_active(TRY_TIMEOUT)
            if set(states.values()) == {"ACTIVE"}:
                break
            if attempt == TRIES:
                raise PeeringFailed(f"the peering is not ACTIVE on both sides after {TRIES} tries of "
                                    f"{TRY_TIMEOUT:.0f} s: {states}")
            print(f"    not ACTIVE after {TRY_TIMEOUT:.0f} s: establishing it again with a new token")
        print(f"    ACTIVE on both sides in {time.monotonic() - started:.0f} s")
    deadline = time.monotonic() + ACTIVE_TIMEOUT
    while FAILS_OVER not in peerings(DC1).get(DC2, ["", ""])[1].split("imports: ")[-1].split(";")[0]:
        if time.monotonic() > deadline:
            raise PeeringFailed(f"{DC1} does not import {FAILS_OVER} from {DC2} after {ACTIVE_TIMEOUT:.0f} s")
        time.sleep(2)
    print("    " + in_mesh_init(DC1, "failover", FAILS_OVER, DC2).strip())
    return status()


def status() -> int:
    for dc in (DC1, DC2):
        found = in_mesh_init(dc, "peerings").strip()
        print(f"{dc} ({FILES[dc]}):\n" + "\n".join(f"  {line}" for line in (found or "no peering").splitlines()))
    return 0


def delete() -> int:
    print("    " + in_mesh_init(DC1, "failover", FAILS_OVER, "-").strip())
    in_mesh_init(DC1, "peer-delete", DC2)
    in_mesh_init(DC2, "peer-delete", DC1)
    print(f"==> the peering of {DC1} and {DC2} is deleted on both sides")
    return 0


def up() -> int:
    for dc, args in ((DC1, ("up", "--build", "-d", "--wait")), (DC2, ("up", "-d", "--wait"))):
        print(f"==> {dc}: docker compose -p {projects()[dc]} -f {FILES[dc]} {' '.join(args)}", flush=True)
        if compose(dc, *args, capture=False, timeout=1800).returncode != 0:
            raise PeeringFailed(f"{dc} did not come up (`docker compose -f {FILES[dc]} logs` says why)")
    return establish()


def down() -> int:
    for dc in (DC2, DC1):
        print(f"==> {dc}: docker compose -f {FILES[dc]} down", flush=True)
        compose(dc, "down", capture=False)
    return 0


def main(argv: list[str]) -> int:
    commands = {"up": up, "establish": establish, "status": status, "delete": delete, "down": down}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]]()
    except (PeeringFailed, subprocess.TimeoutExpired) as err:
        print(f"peering: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
