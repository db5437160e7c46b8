"""The attack both container suites try from inside app containers: every request an attacker there
could make for any service's mesh certificate (which a Consul agent's cache hands out) or an
intention change, with no token and with every token the container can read, over HTTP and HTTPS
to every Consul address given."""

import json
import subprocess


def consul_addresses(*hosts: str) -> list[str]:
    """Every way to Consul's API or xDS port on ``hosts`` (plain HTTP and HTTPS), and the loopback's
    (the gate, in a frontend's namespace)."""
    return [base for host in hosts for base in (f"https://{host}:8501", f"http://{host}:8501",
                                                 f"http://{host}:8500", f"https://{host}:8503")
            ] + ["http://127.0.0.1:8500", "https://127.0.0.1:8501"]


def attack(container: str, services: tuple[str, ...], bases: list[str]) -> dict:
    """Run the attack in ``container``: {"tokens": the token files it found, "results": one per request}."""
    probe = subprocess.run(["docker", "exec", container, "python3", "-c", ATTACK, json.dumps(services),
                            json.dumps(bases)], capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr
    return json.loads(probe.stdout)


# run inside the app container: argv[1] the services, argv[2] the addresses
ATTACK = r"""
import glob, json, ssl, sys, urllib.request
services = json.loads(sys.argv[1])
tokens = {"none": None}
for path in glob.glob("/run/**/*token*", recursive=True) + glob.glob("/var/lib/app/**", recursive=True):
    try:
        text = open(path).read().strip()
    except OSError:
        continue
    if len(text) == 36 and text.count("-") == 4:
        tokens[path] = text
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE
bases = json.loads(sys.argv[2])
entry = json.dumps({"Kind": "service-intentions", "Name": "orders",
                    "Sources": [{"Name": "*", "Action": "allow"}]}).encode()
results = []
for base in bases:
    for who, token in tokens.items():
        headers = {"X-Consul-Token": token} if token else {}
        asks = [("GET", f"/v1/agent/connect/ca/leaf/{s}", None) for s in services]
        asks.append(("PUT", "/v1/config", entry))
        for method, path, body in asks:
            request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=3, context=insecure) as answer:
                    outcome, text = answer.status, answer.read(4000).decode("utf-8", "replace")
            except urllib.error.HTTPError as err:
                outcome, text = err.code, ""
                try:  # Consul closes at once after refusing plain HTTP on its HTTPS port
                    text = err.read(300).decode("utf-8", "replace")
                except OSError:
                    pass
            except Exception as err:
                outcome, text = type(err).__name__, str(err)[:200]
            results.append({"base": base, "token": who, "method": method, "path": path, "outcome": outcome,
                            "leaked": "PRIVATE KEY" in text, "text": text[:160]})
print(json.dumps({"tokens": sorted(tokens), "results": results}))
"""
