"""dc1 (cluster.yml) and dc2 (dc2.yml), peered through their mesh gateways (docs/peering.md).

Every answer the ordering clients get is counted, and at the end of each test the stock taken equals
the units in confirmed orders (dc2's products share dc1's databases: one ledger).
"""

import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests

import crashload
from cluster_stack import INGRESS, STACK, address, container, docker, envoy, instances, session
from conftest import DC2_STACK
from polling import eventually

# how long a switch may take, from the last dc1 products instance stopped to dc1's orders placed with
# dc2's products, or back: Consul's check (every 2 s) finds the instances critical, the servers tell
# the callers' agents, their Envoys move to the failover target (measured: see the test's output)
SWITCH_BOUND = 30.0
CLIENTS = 8
DC1_PRODUCTS = [i.name for i in instances("products")]  # every version's instances


def products_by(served_by: str) -> str:
    """The datacenter of the products instance an order's Served-By names: 'dc1', 'dc2' or ''."""
    found = re.search(r"products/v\d+/(dc\d)/", served_by or "")
    return found.group(1) if found else ""


class Orders:
    """Clients ordering through dc1's ingress; every answer counted, with when it came and which
    datacenter's products held its stock."""

    def __init__(self, shop: crashload.Shop, user_id: int, initial: dict[int, int]):
        self.shop, self.user_id, self.initial = shop, user_id, initial
        self.answers: Counter = Counter()
        # (started, answered, status, products' datacenter, seconds taken, the answer's text unless a 201)
        self.log: list[tuple[float, float, object, str, float, str]] = []
        self.placed: list[int] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def place(self, s: requests.Session) -> tuple[object, str, float]:
        started = time.monotonic()
        body = {"user_id": self.user_id, "items": [{"product_id": next(iter(self.initial)), "quantity": 1}]}
        try:
            r = s.post(f"{self.shop.frontend}/api/orders", json=body, timeout=30)
        except requests.RequestException as exc:
            outcome, where, text = type(exc).__name__, "", str(exc)[:300]
        else:
            outcome, where, text = r.status_code, products_by(r.headers.get("Served-By", "")), r.text[:600]
            if outcome == 201:
                with self.lock:
                    self.placed.append(r.json()["id"])
        answered = time.monotonic()
        took = answered - started
        with self.lock:
            self.answers[outcome] += 1
            self.log.append((started, answered, outcome, where, took, "" if outcome == 201 else text))
            if outcome != 201 and len(self.failures) < 10:
                self.failures.append(f"{outcome} {text}")
        return outcome, where, took

    def start(self, clients: int = CLIENTS) -> None:
        self.stop.clear()

        def client():
            with session() as s:
                while not self.stop.is_set():
                    self.place(s)
        self.threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def halt(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def one_client(self, count: int) -> list[tuple[object, str, float]]:
        with session() as s:
            return [self.place(s) for _ in range(count)]

    def since(self, moment: float) -> list[tuple[float, float, object, str, float, str]]:
        """The orders answered after ``moment``."""
        with self.lock:
            return [entry for entry in self.log if entry[1] >= moment]

    def result(self) -> dict:
        return {"user_id": self.user_id, "initial": self.initial, "answers": self.answers, "placed": self.placed,
                "kills": [], "last_kill": time.monotonic(), "failures": self.failures}


@pytest.fixture
def orders(peered):
    shop = crashload.Shop(INGRESS)
    user_id, initial = shop.setup(products=1, stock=100_000)
    placing = Orders(shop, user_id, initial)
    yield placing
    placing.halt()
    crashload.check(shop, placing.result(), within=60)


def products_counters() -> str:
    """Each orders Envoy's counters for its products clusters that tell why a call failed: retries
    made and refused (the retry circuit breaker), connections that failed, answers by status."""
    wanted = ("upstream_rq_retry", "upstream_cx_connect_fail", "upstream_rq_5", "upstream_cx_destroy_remote",
              "upstream_rq_pending_overflow", "membership_healthy", "upstream_rq_timeout", "upstream_rq_tx_reset",
              "upstream_rq_rx_reset")
    said = []
    for caller in instances("orders"):
        try:
            stats = envoy(caller.sidecar, caller.definition.admin_port, "/stats?filter=products")
        except AssertionError as err:  # a look that fails is reported, the assertion above decides
            said.append(f"{caller.sidecar}: not read: {err}")
            continue
        said += [f"{caller.sidecar}: {line}" for line in stats.splitlines()
                 if any(w in line for w in wanted) and not line.endswith(": 0")]
    return "\n".join(said)


def stop_dc1_products() -> float:
    for name in DC1_PRODUCTS:
        assert docker("stop", container(name)).returncode == 0
    return time.monotonic()


def start_dc1_products() -> float:
    for name in DC1_PRODUCTS:
        assert docker("start", container(name)).returncode == 0
    return time.monotonic()


def test_the_peering_is_active_on_both_sides_with_what_each_imports_and_exports(peered, consul_get):
    assert peered.peerings("dc1") == {"dc2": ["ACTIVE", "imports: products, users; exports: -"]}
    assert peered.peerings("dc2") == {"dc1": ["ACTIVE", "imports: -; exports: products, users"]}
    # dc1's own API says the same, and dc1 holds dc2's products as an imported service
    held = consul_get("/v1/peering/dc2")
    assert held["State"] == "ACTIVE", held
    imported = consul_get("/v1/health/service/products", peer="dc2")
    assert [(i["Service"]["Service"], i["Service"].get("PeerName")) for i in imported] == [("products", "dc2")]
    # products' resolver fails over to it; users' has no failover
    resolver = consul_get("/v1/config/service-resolver/products")
    assert resolver["Failover"] == {"*": {"Targets": [{"Peer": "dc2"}]}}, resolver
    # every orders Envoy holds both: dc1's instances first, taking every call while any passes
    # (proxy-defaults' overprovisioning factor, accepted by Envoy), then dc2's through the gateways
    for caller in instances("orders"):
        dump = json.loads(envoy(caller.sidecar, caller.definition.admin_port, "/config_dump?include_eds"))
        eds = next(c for c in dump["configs"] if "EndpointsConfigDump" in c["@type"])
        loads = {e["endpoint_config"]["cluster_name"]: e["endpoint_config"]
                 for e in eds.get("dynamic_endpoint_configs", [])}
        # Consul names an aggregate's clusters failover-target~<priority>~<the subset's cluster>
        dc1 = [c for name, c in loads.items() if name.startswith("failover-target~0~v1.products.default.dc1.")]
        dc2 = [c for name, c in loads.items() if name.startswith("failover-target~1~v1.products.default.dc1.")]
        assert len(dc1) == 1 and len(dc2) == 1, sorted(loads)
        assert dc1[0]["policy"]["overprovisioning_factor"] == 100000, dc1[0].get("policy")
        # dc2's products, at dc1's own mesh gateway's address (mode local)
        gateway = address("mesh-gateway")
        assert [e["endpoint"]["address"]["socket_address"]["address"] for group in dc2[0]["endpoints"]
                for e in group["lb_endpoints"]] == [gateway], dc2[0]


def test_the_mesh_page_and_the_status_command_show_the_peering(peered):
    with session() as s:
        html = s.get(f"{INGRESS}/mesh", timeout=30).text
    row = re.search(r'<tr data-peer="dc2">.*?</tr>', html, re.S)
    assert row, html[:3000]
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    assert "ACTIVE" in cells[1] and cells[2:] == ["products, users", "-"], cells
    # what `make peering-status` prints
    shown = subprocess.run([sys.executable, "-m", "meshctl.peering", "status"], capture_output=True, text=True,
                           timeout=120, cwd=str(peered.REPO))
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"dc1 \(cluster.yml\):\n  dc2 +ACTIVE +imports: products, users; exports: -", shown.stdout), shown.stdout
    assert re.search(r"dc2 \(dc2.yml\):\n  dc1 +ACTIVE +imports: -; exports: products, users", shown.stdout), shown.stdout


def test_orders_use_dc2s_products_only_while_dc1_has_none_and_come_back(orders):
    # one client, dc1 healthy: every order's stock held by dc1's products
    alone_dc1 = orders.one_client(40)
    assert {(status, where) for status, where, _ in alone_dc1} == {(201, "dc1")}, alone_dc1
    orders.start()
    time.sleep(3)
    stopping = time.monotonic()
    try:
        stopped = stop_dc1_products()  # `docker stop` of four containers: Consul may mark them before it returns
        switched(orders, stopping, stopped, alone_dc1)
    finally:
        orders.halt()
        start_dc1_products()


def switched(orders: "Orders", stopping: float, stopped: float, alone_dc1: list) -> None:
    """With dc1's products stopping at ``stopping``: orders go to dc2's products, then back to dc1's
    once they are started again."""
    first_dc2 = eventually("an order placed with dc2's products", lambda: next(
        (e[1] for e in orders.since(stopping) if e[2] == 201 and e[3] == "dc2"), None), timeout=SWITCH_BOUND + 30,
        interval=0.5)
    time.sleep(8)
    orders.halt()
    switch = orders.since(stopping)
    # every order sent once the first one went to dc2 went to dc2, and succeeded
    settled = [e for e in switch if e[0] > first_dc2]
    late = [e for e in settled if (e[2], e[3]) != (201, "dc2")]
    assert settled and not late, (
        f"{Counter((e[2], e[3]) for e in settled)}; sent after the first order with dc2's products "
        f"({first_dc2 - stopping:.1f}s after the stop began, {stopped - stopping:.1f}s to stop):\n"
        + "\n".join(f"sent at {e[0] - stopping:.2f}s, answered in {e[4]:.2f}s: {e[2]} {e[5]}" for e in late[:5])
        + f"\nwhat each orders Envoy counted for products:\n{products_counters()}")
    failed_switching = [e for e in switch if e[2] != 201]
    # one client, dc1 without products: what crossing the two gateways costs
    alone_dc2 = orders.one_client(40)
    assert {(status, where) for status, where, _ in alone_dc2} == {(201, "dc2")}, alone_dc2

    orders.start()
    started = start_dc1_products()  # the caller's finally starts them again too: a no-op then
    first_dc1 = eventually("an order placed with dc1's products again", lambda: next(
        (e[1] for e in orders.since(started) if e[2] == 201 and e[3] == "dc1"), None), timeout=SWITCH_BOUND + 30,
        interval=0.5)
    eventually("every order placed with dc1's products again", lambda: (
        (recent := orders.since(time.monotonic() - 3)) and {(e[2], e[3]) for e in recent} == {(201, "dc1")}),
        timeout=SWITCH_BOUND, interval=1)
    orders.halt()
    back = orders.since(started)
    failed_back = [e for e in back if e[2] != 201]

    p50 = {dc: statistics.median(took for _, _, took in alone) * 1000
           for dc, alone in (("dc1", alone_dc1), ("dc2", alone_dc2))}
    # printed at the end of the run, with the bring-up's figures
    STACK.measured["failover"] = (
        f"answers {dict(orders.answers)}; first order with dc2's products {first_dc2 - stopping:.1f}s after the stop "
        f"began ({stopped - stopping:.1f}s to stop four containers), {len(failed_switching)} failed "
        f"({dict(Counter(e[2] for e in failed_switching))}); back to dc1 {first_dc1 - started:.1f}s after the start, "
        f"{len(failed_back)} failed; one client p50 {p50['dc1']:.1f} ms with dc1's products, {p50['dc2']:.1f} ms "
        f"with dc2's (+{p50['dc2'] - p50['dc1']:.1f} ms across the gateways)")
    print(f"\nfailover: {STACK.measured['failover']}")
    assert first_dc2 - stopping <= SWITCH_BOUND and first_dc1 - started <= SWITCH_BOUND
    # the switch costs the orders on their way and those sent before the callers heard: 503s
    # (products unavailable), never a hang or another status, none once dc2 served; going back costs none
    assert {e[2] for e in failed_switching} <= {503}, failed_switching[:10]
    assert all(e[0] <= first_dc2 for e in failed_switching), failed_switching[:10]
    assert not failed_back, failed_back[:10]


# run inside dc2's mesh gateway container (in dc2's mesh, and the one dc2 container on the network the
# datacenters share): a dc2 identity (the gateway's own mesh certificate, from dc2's agent with the
# gateway's token) at dc1's mesh gateway, naming dc1's services as dc1's own callers and as a peer
# would, and, to show the probe can tell, dc1's servers as the peering names them (which dc1's
# gateway passes on: a handshake with dc1's server). argv: dc1's gateway, dc1's trust domain.
IDENTITY_PROBE = r"""
import json, os, socket, ssl, sys, tempfile, urllib.request
gateway, trust_domain = sys.argv[1], sys.argv[2]
agent = ssl.create_default_context(cafile=os.environ["CONSUL_CACERT"])
agent.check_hostname = False
agent.load_cert_chain(os.environ["CONSUL_CLIENT_CERT"], os.environ["CONSUL_CLIENT_KEY"])
token = open("/consul/secrets/service.token").read().strip()
request = urllib.request.Request(os.environ["CONSUL_HTTP_ADDR"] + "/v1/agent/connect/ca/leaf/mesh-gateway",
                                 headers={"X-Consul-Token": token})
leaf = json.load(urllib.request.urlopen(request, context=agent, timeout=10))
folder = tempfile.mkdtemp()
open(folder + "/cert.pem", "w").write(leaf["CertPEM"])
open(folder + "/key.pem", "w").write(leaf["PrivateKeyPEM"])
results = {"identity": leaf["ServiceURI"]}
host, port = gateway.split(":")
for sni in ("server.dc1.peering." + trust_domain, "products.default.dc1.internal." + trust_domain,
            "v1.products.default.dc1.internal." + trust_domain,
            "products.default.default.dc1.external." + trust_domain, "orders.default.dc1.internal." + trust_domain):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(folder + "/cert.pem", folder + "/key.pem")
    try:
        raw = socket.create_connection((host, int(port)), timeout=5)
    except OSError as err:
        results[sni] = "no connection: " + str(err)
        continue
    try:
        tls = context.wrap_socket(raw, server_hostname=sni)
    except (ssl.SSLError, OSError) as err:
        results[sni] = "refused during the handshake: " + (getattr(err, "reason", None) or type(err).__name__)
        continue
    # TLS 1.3: a server that refuses the client's certificate says so after the client's handshake ends
    try:
        tls.sendall(b"GET /products HTTP/1.1\r\nHost: products\r\nConnection: close\r\n\r\n")
        answer = tls.recv(200)
        if answer.startswith(b"HTTP/"):
            results[sni] = "handshake, then answered: " + answer.split(b"\r\n")[0].decode("latin-1")
        else:
            results[sni] = "handshake, then " + ("other bytes" if answer else "closed")
    except (ssl.SSLError, OSError) as err:
        results[sni] = "handshake, then refused: " + (getattr(err, "reason", None) or type(err).__name__)
    finally:
        tls.close()
print(json.dumps(results))
"""

# run inside dc2's users sidecar: whether a dc2 workload reaches dc1's mesh gateway at all
REACH = r"""
import socket, sys
host, port = sys.argv[1].split(":")
try:
    socket.create_connection((host, int(port)), timeout=3).close()
    print("connected")
except OSError as err:
    print("no connection: " + type(err).__name__)
"""


def test_an_identity_from_dc2_is_refused_in_dc1(peered, consul_get):
    trust_domain = consul_get("/v1/connect/ca/roots")["TrustDomain"]
    networks = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", container("mesh-gateway")).stdout)
    gateway = next(n["IPAddress"] for name, n in networks.items() if name.endswith("_wan")) + ":8443"
    probe = docker("exec", DC2_STACK.container("mesh-gateway"), "python3", "-c", IDENTITY_PROBE, gateway, trust_domain,
                   timeout=120)
    assert probe.returncode == 0, probe.stderr
    results = json.loads(probe.stdout)
    STACK.measured["dc2's identity at dc1's gateway"] = json.dumps(results)
    assert results.pop("identity").endswith("/dc/dc2/svc/mesh-gateway")
    # the probe can tell: what dc1's gateway routes (the peering's way to dc1's servers, which ask
    # for no client certificate) shakes hands
    assert results.pop(f"server.dc1.peering.{trust_domain}").startswith("handshake"), results
    # no dc1 service serves a dc2 identity: its gateway routes the peer's name of none (dc1 exports
    # nothing), and the sidecars behind the names it routes for dc1's own callers refuse dc2's
    # certificate (not from dc1's CA, nor from a peer dc1 exports to); an intention's 403 would do too
    refused = ("refused during the handshake", "handshake, then refused", "handshake, then closed",
               "handshake, then answered: HTTP/1.1 403")
    assert all(r.startswith(refused) for r in results.values()), results
    # and a dc2 workload does not reach dc1's gateway at all: only the gateways share a network
    reach = docker("exec", DC2_STACK.container("users-sidecar"), "python3", "-c", REACH, gateway, timeout=60)
    assert reach.stdout.strip().startswith("no connection"), reach.stdout + reach.stderr


def test_deleting_the_peering_makes_the_failover_fail_cleanly(peered, orders, consul_http, management_token):
    stop_dc1_products()
    try:
        eventually("an order placed with dc2's products",
                   lambda: (r := orders.one_client(1)[0])[0] == 201 and r[1] == "dc2", timeout=SWITCH_BOUND + 30,
                   interval=0.5)
        deleted = consul_http("DELETE", "/v1/peering/dc2", management_token)
        assert deleted.status_code == 200, deleted.text
        gone = time.monotonic()
        eventually("dc1's orders to stop reaching dc2", lambda: orders.one_client(1)[0][0] == 503,
                   timeout=SWITCH_BOUND, interval=0.5)
        refused_after = time.monotonic() - gone
        with session() as s:
            for _ in range(10):
                started = time.monotonic()
                r = s.post(f"{INGRESS}/api/orders", timeout=30, json={
                    "user_id": orders.user_id, "items": [{"product_id": next(iter(orders.initial)), "quantity": 1}]})
                assert time.monotonic() - started < 5, "a hang, not a clean failure"
                assert r.status_code == 503, r.text
                error = r.json()["error"]
                assert error["fields"]["upstream"] == "products", error
        STACK.measured["the peering deleted"] = (f"orders refused cleanly (503, products unavailable) "
                                                 f"{refused_after:.1f}s after; each of 10 more in under 5 s")
    finally:
        start_dc1_products()
        eventually("orders placed with dc1's products again",
                   lambda: (r := orders.one_client(1)[0])[0] == 201 and r[1] == "dc1", timeout=SWITCH_BOUND + 30,
                   interval=1)
