#!/usr/bin/env bash
# Restart a cluster's instances one at a time without failing a request (docs/scale.md,
# "Restarting instances without failing a request").
#
#   meshctl/rolling-restart.sh [service ...]     every instance of those services (default: all)
#
# COMPOSE_FILE (default cluster.yml) and COMPOSE_PROJECT_NAME say which stack, as for docker compose.
# An instance is an app and its sidecar, in the network namespace their pod holds (services.yml).
# For each one:
#   1. take it out of Consul's catalogue (its sidecar deregisters it), and wait until every Envoy
#      that calls the service (the other sidecars, the gateways) no longer holds it: only then can
#      none of them send it a new request. A fixed pause is not enough: on a loaded host the
#      callers have heard of a change after 20 s (CI 16: 528 orders refused by an ingress gateway
#      still sending to a stopped frontend sidecar);
#   2. stop its sidecar, which lets the requests under way finish, then stops Envoy
#      (envoy/entrypoint.sh, stop());
#   3. restart the app (SIGTERM: gunicorn finishes what it is doing), then start the sidecar again,
#      which registers the instance anew;
#   4. wait until Consul's servers list it passing, and every Envoy that calls the service (the
#      other sidecars, the ingress gateway) knows every instance of it healthy again. Only then is
#      the next instance stopped: a service never has fewer than one instance its callers know.
set -euo pipefail

cd "$(dirname "$0")/.."
FILE="${COMPOSE_FILE:-cluster.yml}"
WAIT_SECONDS="${WAIT_SECONDS:-120}"
compose() { docker compose -f "$FILE" "$@"; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# a docker compose step, quiet unless it fails
step() { "$@" >"$log" 2>&1 </dev/null || { cat "$log" >&2; echo "rolling restart: failed: $*" >&2; exit 1; }; }

config="$(compose config --format json)"
# "<instance> <service> <sidecar>" for each instance (the sidecar, labelled so, and the app in the same
# pod; the service its definition names, so products-v2-1 is an instance of products), and the
# containers whose Envoy may call others: the rule meshctl/bench/cluster.py reads them by
instances="$(python3 -c '
import glob, json, sys
services = json.load(sys.stdin)["services"]
names = {}
for path in glob.glob("consul-config/services/*.json"):
    defined = json.load(open(path))["service"]
    names[defined.get("id") or defined["name"]] = defined["name"]
pod = lambda d: (d.get("network_mode") or "").removeprefix("service:") if (d.get("network_mode") or "").startswith("service:") else None
for name, d in sorted(services.items()):
    if (d.get("labels") or {}).get("shop.mesh.role") == "sidecar" and pod(d):
        apps = [a for a, e in services.items() if a != name and pod(e) == pod(d)]
        print(apps[0] if len(apps) == 1 else "?", names.get(d["environment"]["SERVICE"], "?"), name)
' <<<"$config")"
# The Envoys that call services: every sidecar and every ingress gateway. Not a mesh gateway: it
# carries another datacenter's calls in, and counts an instance once for each subset it is in.
envoys="$(python3 -c '
import json, sys
services = json.load(sys.stdin)["services"]
print(" ".join(n for n, d in sorted(services.items())
               if (d.get("environment") or {}).get("GATEWAY") == "ingress" or (d.get("labels") or {}).get("shop.mesh.role") == "sidecar"))
' <<<"$config")"
[ -n "$instances" ] || { echo "rolling restart: $FILE defines no instance with a sidecar" >&2; exit 1; }
unknown="$(awk '$1 == "?" || $2 == "?" { print $3 }' <<<"$instances" | paste -sd' ')"
if [ -n "$unknown" ]; then
  echo "rolling restart: in $FILE, $unknown: its pod holds not one app, or no definition has its SERVICE" >&2
  exit 1
fi

wanted=("$@")
chosen() { [ ${#wanted[@]} -eq 0 ] && return 0; local w; for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
for w in "${wanted[@]}"; do
  grep -q " $w " <<<"$instances" || { echo "rolling restart: no instance of '$w' in $FILE" >&2; exit 1; }
done

# polls "$@" every second until it succeeds; after WAIT_SECONDS, says what it waited for and fails
until_ok() {
  local what="$1" deadline=$((SECONDS + WAIT_SECONDS)); shift
  until "$@" >"$log" 2>&1 </dev/null; do
    if ((SECONDS >= deadline)); then
      echo "rolling restart: gave up after ${WAIT_SECONDS}s waiting for $what: $(cat "$log")" >&2
      return 1
    fi
    sleep 1
  done
}

every_envoy() { # knows|forgot service count: asks every Envoy at once (meshctl.container); each
  # one's answer is said with its name
  local envoy status=0 pids=()
  for envoy in $envoys; do
    (compose exec -T "$envoy" python3 -m meshctl.container "$@" 2>&1 | sed "s/^/$envoy: /"; exit "${PIPESTATUS[0]}") &
    pids+=($!)
  done
  for envoy in "${pids[@]}"; do wait "$envoy" || status=1; done
  return $status
}

# the instance out of Consul's catalogue, by its sidecar with its own token (as its stop() does)
leave() {
  compose exec -T "$1" sh -c 'consul services deregister -token-file /consul/secrets/service.token -id "$SERVICE"'
}

started=$SECONDS
while read -r instance service sidecar <&3; do
  chosen "$service" || continue
  count="$(grep -c " $service " <<<"$instances")"
  t=$SECONDS
  printf '==> %s: leaving Consul' "$instance"
  step leave "$sidecar"
  printf ' (%ss), forgotten by its callers' $((SECONDS - t)); t=$SECONDS
  until_ok "every Envoy calling $service to hold at most $((count - 1)) instances" every_envoy forgot "$service" "$((count - 1))"
  printf ' (%ss); draining' $((SECONDS - t)); t=$SECONDS
  step compose stop "$sidecar"
  printf ' (%ss); restarting' $((SECONDS - t)); t=$SECONDS
  step compose restart --no-deps "$instance"
  # docker's own start: `compose start` would run the one-shot steps it depends on again
  step docker start "$(compose ps -a -q "$sidecar")"
  printf ' (%ss); registered, waiting for its checks' $((SECONDS - t)); t=$SECONDS
  until_ok "$instance to pass on Consul's servers" compose exec -T "$sidecar" python3 -m meshctl.container passing
  printf ' (%ss) and its callers' $((SECONDS - t)); t=$SECONDS
  until_ok "every Envoy calling $service to know its $count instances" every_envoy knows "$service" "$count"
  printf ' (%ss): back, %ss so far\n' $((SECONDS - t)) $((SECONDS - started))
done 3<<<"$instances"
echo "==> rolling restart done in $((SECONDS - started))s"
