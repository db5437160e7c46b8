"""The same behaviours as the local suite, in containers, plus what only containers can show: an app
is reachable only through its sidecar, each database only by its own service."""

import json
import re
import time

import pytest
import requests

import polling
from entries import put_entry, with_source_denied
from compose_stack import MESH, PROJECT, REPO, compose, container, docker, logs, settled

SERVICES = tuple(MESH)


def eventually(what, probe, timeout=30, interval=0.5, services=()):
    """Poll ``probe`` until truthy; on time-out show the last lines of the ``services``' containers."""
    return polling.eventually(what, probe, timeout, interval, lambda: "\n".join(logs(s) for s in services))


def envoy_stats(stack, service) -> dict[str, int]:
    code = ("import urllib.request; print(urllib.request.urlopen("
            f"'http://127.0.0.1:{MESH[service].admin_port}/stats', timeout=5).read().decode())")
    out, _, _ = stack.exec_in_container(["python3", "-c", code], service_name=f"{service}-sidecar")
    stats = {}
    for line in out.splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit():
            stats[name] = int(value)
    return stats


@pytest.mark.parametrize("service", SERVICES)
def test_registered_and_passing_with_no_rejected_config(consul_client, stack, service):
    def passing():
        _, nodes = consul_client.health.service(service, passing=True)
        _, proxies = consul_client.health.connect(service, passing=True)
        return nodes and proxies and (nodes, proxies)
    nodes, proxies = eventually(f"{service} and its sidecar passing", passing, services=(service,))
    address = nodes[0]["Service"]["Address"]
    assert address != "127.0.0.1" and proxies[0]["Service"]["Address"] == address
    checks = {c["Name"]: c for entry in nodes + proxies for c in entry["Checks"] if c["ServiceID"]}
    # the app's check goes through the sidecar's expose listener, not to the app's own port
    assert checks["GET /healthcheck"]["Status"] == "passing"
    rejected = {k: v for k, v in envoy_stats(stack, service).items() if k.endswith("update_rejected") and v}
    assert rejected == {}


def test_order_flow(api):
    user, product = api.user(), api.product(stock=5, price="19.99")
    response = api.order(user, product, quantity=2)
    assert response.status_code == 201, response.text
    assert response.json()["total"] == "39.98"
    assert api.stock(product) == 3
    assert response.headers["Served-By"].split(", ") == [
        "frontend/v1/dc1/frontend", "orders/v1/dc1/orders", "users/v1/dc1/users", "products/v1/dc1/products"]


def test_intention_deny_and_restore(consul_client, stack, api):
    user, product = api.user(), api.product(stock=10)
    original = consul_client.config.get("service-intentions", "products")
    updates = envoy_stats(stack, "products")["listener_manager.lds.update_success"]
    assert put_entry(consul_client, with_source_denied(original, "orders"))
    try:
        eventually("products' Envoy to apply the deny and drain", lambda: (
            (s := envoy_stats(stack, "products"))["listener_manager.lds.update_success"] > updates
            and s["listener_manager.total_filter_chains_draining"] == 0), timeout=20)
        before = api.stock(product)
        # a pooled connection the drain just closed can still fail one call as "unavailable"
        response, = eventually("orders to report the mesh's denial", lambda: (
            (r := api.order(user, product)).status_code == 503 and r.json()["error"]["code"] == "upstream_denied"
            and [r]), timeout=15)
        assert api.stock(product) == before
    finally:
        assert put_entry(consul_client, original)
    eventually("ordering to work again", lambda: api.order(user, product).status_code == 201, timeout=20)


PROBE = r"""
import json, socket, sys
def tcp(host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            return "open"
    except socket.gaierror:
        return "no such host"
    except OSError as e:
        return type(e).__name__
def plaintext(host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(64).decode("latin-1")
    except OSError as e:
        return type(e).__name__
apps, sidecars = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {f"{h}:{p}": tcp(h, p) for h, p in apps + [
       ("db_users", 5432), ("db_products", 5432), ("db_orders", 5432), ("consul", 8501), ("consul", 8500),
       ("consul", 8502)]}
out.update({f"plaintext {h}:{p}": plaintext(h, p) for h, p in sidecars})
print(json.dumps(out))
"""


def test_a_stranger_on_the_mesh_network_reaches_no_app_and_no_database(stack):
    # every app but the frontend, which alone listens on 0.0.0.0: browsers come in there
    internal = [s for s in MESH.values() if s.name != "frontend"]
    # an app and its sidecar are reached at their pod's address
    apps = json.dumps([[f"{s.name}-pod", s.port] for s in internal])
    sidecars = json.dumps([[f"{s.name}-pod", s.sidecar_port] for s in MESH.values()])
    image = docker("inspect", "-f", "{{.Config.Image}}", container("users-sidecar")).stdout.strip()
    result = docker("run", "--rm", "--network", f"{PROJECT}_mesh", "--entrypoint", "python3", image,
                    "-c", PROBE, apps, sidecars)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["consul:8501"] == "open", seen  # the network itself works: Consul's API over TLS
    # plain HTTP and plaintext xDS are off
    assert seen["consul:8500"] == seen["consul:8502"] == "ConnectionRefusedError", seen
    for s in internal:
        assert seen[f"{s.name}-pod:{s.port}"] == "ConnectionRefusedError", seen  # apps listen on 127.0.0.1 only
    for db in ("db_users:5432", "db_products:5432", "db_orders:5432"):
        assert seen[db] == "no such host", seen  # databases live on their service's own network
    for s in MESH.values():
        assert not seen[f"plaintext {s.name}-pod:{s.sidecar_port}"].startswith("HTTP/"), seen


def test_compose_has_every_service_of_the_topology_and_publishes_the_frontends_port(stack):
    """Each defined service has its app and sidecar in services.yml, in the namespace of its pod; the
    one port services.yml names, the frontend's published one (on its pod), is the frontend's defined port."""
    config = json.loads(compose("config", "--format", "json").stdout)["services"]
    for service in MESH.values():
        assert config[service.name]["build"]["args"]["SERVICE"] == service.name
        assert config[f"{service.name}-sidecar"]["environment"]["SERVICE"] == service.name
        for name in (service.name, f"{service.name}-sidecar"):
            assert config[name]["network_mode"] == f"service:{service.name}-pod", name
        for other in service.others:  # another version: the service's image, told its instance
            assert config[other.id]["build"]["args"]["SERVICE"] == service.name
            assert config[other.id]["environment"]["SERVICE"] == other.id
            assert config[f"{other.id}-sidecar"]["environment"]["SERVICE"] == other.id
    published = [p["target"] for p in config["frontend-pod"]["ports"]]
    assert published == [MESH["frontend"].port], published


def test_stopped_products_is_503_then_heals(consul_client, api):
    """products stopped for 15 s, longer than a sidecar ever waited for its app: every order meanwhile
    a quick, clean 503 that takes nothing; its sidecar stays, in the namespace its pod holds, and
    serves products again once `up` starts it. No sidecar is restarted on the way."""
    user, product = api.user(), api.product(stock=5)
    sidecar = container("products-sidecar")
    started = docker("inspect", "-f", "{{.State.StartedAt}}", sidecar).stdout.strip()
    assert compose("stop", "products").returncode == 0
    stopped = time.monotonic()
    refused = 0
    try:
        eventually("Consul to mark products critical", lambda: any(
            c["Status"] == "critical" for c in consul_client.health.checks("products")[1]), timeout=20)
        while time.monotonic() - stopped < 15 or not refused:
            asked = time.monotonic()
            response = api.order(user, product)
            assert time.monotonic() - asked < 5
            assert response.status_code == 503, response.text
            assert response.json()["error"]["fields"]["upstream"] == "products", response.text
            refused += 1
        state = docker("inspect", "-f", "{{.State.Status}} {{.State.StartedAt}}", sidecar).stdout.split()
        assert state == ["running", started], state
    finally:
        # the original command heals whatever is not running, as `make up` does locally
        result = compose("up", "-d", "--wait", "--wait-timeout", "120")
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    settled()
    assert api.order(user, product).status_code == 201
    assert api.stock(product) == 4, f"{refused} orders answered 503 took stock"
    assert docker("inspect", "-f", "{{.State.StartedAt}}", sidecar).stdout.strip() == started


def test_restarted_users_container_is_survived(api):
    """The app restarted alone, into its pod's namespace: its sidecar serves it again, no manual step."""
    user = api.user()
    result = compose("restart", "users")
    assert result.returncode == 0, result.stderr
    settled()
    assert api.get(f"/api/users/{user['id']}").json() == user
    # and orders, whose Envoy had to learn users' new address, can check the user again
    assert api.order(user, api.product(stock=2)).status_code == 201


def test_data_survives_restarting_the_service_and_its_database(api):
    user, product = api.user(), api.product(stock=3)
    assert api.order(user, product).status_code == 201
    result = compose("restart", "db_users", "db_products", "db_orders", "users", "products", "orders")
    assert result.returncode == 0, result.stderr
    settled()
    assert api.get(f"/api/users/{user['id']}").json() == user
    assert api.stock(product) == 2
    orders = api.get(f"/api/orders?user_id={user['id']}").json()
    assert orders["total"] == 1 and orders["items"][0]["items"][0]["product_id"] == product["id"]


class Browser:
    """A browser on the frontend: its cookies, and the CSRF token of the intentions page it opened;
    signed in with ``consul_token`` when given one."""

    def __init__(self, frontend: str, consul_token: str | None = None):
        self.frontend, self.session = frontend, requests.Session()
        self.session.trust_env = False
        if consul_token:
            login = self.session.get(f"{frontend}/login", timeout=15)
            signed = self.session.post(f"{frontend}/login", timeout=15, allow_redirects=False, data={
                "token": consul_token, "csrf_token": self._csrf(login.text)})
            assert signed.status_code == 303, signed.text
        self.page = self.session.get(f"{frontend}/intentions", timeout=15)
        self.token = self._csrf(self.page.text)

    @staticmethod
    def _csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def try_it(self, source: str, destination: str, path: str, token: str | None = None) -> requests.Response:
        """What the page's "Try it" sends: JSON, with the page's token in the X-CSRFToken header."""
        return self.session.post(f"{self.frontend}/api/intentions/try", timeout=20,
                                 headers={"X-CSRFToken": self.token if token is None else token},
                                 json={"source": source, "destination": destination, "method": "GET", "path": path})


def test_frontend_pages_and_try_it_in_containers(api, frontend, management_token):
    assert "users-sidecar-proxy" in api.get("/mesh").text  # read through the gate, with its own token
    anonymous = requests.post(f"{frontend}/api/intentions/try", timeout=20,
                              json={"source": "frontend", "destination": "orders", "method": "GET", "path": "/"})
    assert anonymous.status_code == 401, anonymous.text  # no token: no certificate minted for anybody
    browser = Browser(frontend, management_token)
    assert browser.page.status_code == 200
    assert "frame-ancestors 'none'" in browser.page.headers["Content-Security-Policy"]
    assert browser.page.headers["X-Frame-Options"] == "DENY"
    tried = browser.try_it("users", "orders", "/api/orders").json()
    assert tried["allowed"] is False and tried["status"] == 403, tried
    tried = browser.try_it("frontend", "orders", "/api/orders").json()
    assert tried["allowed"] is True and tried["status"] == 200, tried
    refused = browser.try_it("frontend", "orders", "/api/orders", token="")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "csrf_failed"
    # no token, no change
    assert requests.put(f"{frontend}/api/intentions/users/orders", json={"action": "allow"}, timeout=10).status_code == 401


def test_frontend_keeps_its_secret_key_on_its_volume_across_a_restart(frontend, management_token):
    """Made on first start, owner-only, on the frontend's volume: a page opened before a restart still
    posts after it, because the key that signed its token is still the frontend's key."""
    browser = Browser(frontend, management_token)
    key = docker("exec", container("frontend"), "stat", "-c", "%a %U", "/var/lib/app/secret_key")
    assert key.stdout.split() == ["600", "app"], key.stdout + key.stderr
    result = compose("restart", "frontend")
    assert result.returncode == 0, result.stderr
    settled()
    tried = browser.try_it("frontend", "orders", "/api/orders")
    assert tried.status_code == 200 and tried.json()["allowed"] is True, tried.text


@pytest.mark.parametrize("service", ["users", "products", "orders", "frontend", "users-sidecar", "consul"])
def test_processes_do_not_run_as_root(stack, service):
    top = docker("top", container(service), "-o", "pid,uid,args")
    assert top.returncode == 0, top.stderr
    rows = [line.split(None, 2) for line in top.stdout.splitlines()[1:] if line.strip()]
    assert rows and all(uid != "0" for _, uid, _ in rows), top.stdout


def test_gossip_is_encrypted_with_a_key_made_on_first_start(consul_get):
    serf = consul_get("/v1/agent/self")["Stats"]
    assert serf["serf_lan"]["encrypted"] == "true", serf
    key_file = "/consul/secrets/gossip.hcl"
    assert docker("exec", container("consul"), "stat", "-c", "%a %U", key_file).stdout.split() == ["600", "consul"]
    key = docker("exec", container("consul"), "cat", key_file).stdout.split('"')[1]
    logs_ = docker("logs", container("consul"))
    # never in its logs, its command line or its environment
    assert key not in logs_.stdout + logs_.stderr
    assert key not in docker("inspect", container("consul")).stdout


@pytest.mark.parametrize("service", ["users", "products", "orders"])
def test_each_database_wants_the_password_generated_for_it(stack, api, service):
    """The database refuses its own user without the password; the app, which alone holds it, works."""
    import os
    import stat
    from pathlib import Path

    secret = Path(os.environ["DATA_DIR"]) / "secrets" / f"db_{service}" / "password"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o400 and secret.stat().st_uid == 10001
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    password = secret.read_text().strip()
    assert len(password) >= 32
    probe = ("import psycopg, sys\n"
             "try:\n"
             f"    psycopg.connect(host='db_{service}', user='{service}', dbname='{service}', connect_timeout=5)\n"
             "except psycopg.OperationalError as e:\n"
             "    sys.exit(str(e))\n")
    refused = docker("exec", container(service), "python3", "-c", probe)
    assert refused.returncode != 0 and "password" in refused.stderr, refused.stderr
    # nor in either container's configuration, where `docker inspect` would show it, nor in the
    # running app's environment (it reads DATABASE_PASSWORD_FILE)
    for name in (service, f"db_{service}"):
        assert password not in docker("inspect", container(name)).stdout
    environ = docker("exec", container(service), "cat", "/proc/1/environ").stdout
    assert "DATABASE_PASSWORD_FILE=/run/db-secret/password" in environ and password not in environ
    assert api.get(f"/api/{service}?limit=1").status_code == 200


def test_consuls_api_is_published_on_the_hosts_loopback_only(stack):
    assert docker("port", container("consul"), "8500/tcp").stdout.strip() == ""  # plain HTTP: not even inside
    published = docker("port", container("consul"), "8501/tcp").stdout.split()
    assert published and all(address.startswith("127.0.0.1:") for address in published), published


def test_consuls_api_speaks_tls_only_with_this_meshs_ca(consul_client, consul_ca, operator_cert):
    from compose_stack import CONSUL_PORT

    assert consul_client.status.leader()
    plain = requests.get(f"http://127.0.0.1:{CONSUL_PORT}/v1/status/leader", timeout=5)
    assert plain.status_code == 400 and "HTTPS" in plain.text, plain.text  # no answer in plain HTTP
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):  # the system's CAs
        requests.get(f"https://127.0.0.1:{CONSUL_PORT}/v1/status/leader", cert=operator_cert, timeout=5)
    with pytest.raises(requests.exceptions.SSLError):  # no client certificate: no TLS session at all
        requests.get(f"https://127.0.0.1:{CONSUL_PORT}/v1/status/leader", verify=str(consul_ca), timeout=5)


@pytest.mark.parametrize("service", SERVICES)
def test_every_envoy_takes_its_config_over_tls_and_checks_consuls_certificate(stack, consul_ca, service):
    code = ("import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:"
            f"{MESH[service].admin_port}/config_dump?resource=static_clusters', timeout=5).read().decode())")
    out, _, _ = stack.exec_in_container(["python3", "-c", code], service_name=f"{service}-sidecar")
    agent = next(c["cluster"] for c in json.loads(out)["configs"] if c["cluster"]["name"] == "local_agent")
    address = agent["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert address["port_value"] == 8503, address
    tls = json.dumps(agent.get("transport_socket", {}))
    assert "trusted_ca" in tls and consul_ca.read_text().strip().splitlines()[1] in tls, tls[:300]


@pytest.mark.parametrize("pg_hba, secret, refusal", [
    ("host all all all trust", "kept", "initialised without a password (trust)"),
    ("host all all all scram-sha-256", None, "its password file (/run/db-secret/password) is gone"),
])
def test_a_database_without_its_password_stops_at_start_saying_why(stack, pg_hba, secret, refusal):
    """apps/db-entrypoint.sh, in the database image, on a data folder an earlier start left."""
    image = docker("inspect", "-f", "{{.Config.Image}}", container("db_users")).stdout.strip()
    setup = (f"mkdir -p /tmp/pg /run/db-secret && echo 15 > /tmp/pg/PG_VERSION && echo '{pg_hba}' > /tmp/pg/pg_hba.conf"
             + (" && echo kept > /run/db-secret/password" if secret else ""))
    result = docker("run", "--rm", "--network", "none", "-e", "APP_UID=10001", "-e", "PGDATA=/tmp/pg",
                    "-v", f"{REPO / 'apps' / 'db-entrypoint.sh'}:/run/db-entrypoint.sh:ro",
                    "--entrypoint", "sh", image, "-c", f"{setup} && exec sh /run/db-entrypoint.sh postgres")
    assert result.returncode == 1 and refusal in result.stderr, result.stdout + result.stderr


def test_a_stopping_sidecar_leaves_the_catalogue_before_it_exits(consul_client, api):
    """Graceful: deregistered first, then a drain, then Envoy stops; so a rolling restart loses nothing."""
    import threading

    stopping = threading.Thread(target=docker, args=("stop", "-t", "15", container("users-sidecar")))
    stopping.start()
    try:
        left = eventually("users to leave Consul's catalogue",
                          lambda: not consul_client.health.service("users")[1], timeout=10)
        still = docker("inspect", "-f", "{{.State.Running}}", container("users-sidecar")).stdout.strip()
        assert left and still == "true", "the sidecar exited before it left the catalogue"
    finally:
        stopping.join(timeout=30)
        assert docker("start", container("users-sidecar")).returncode == 0
        settled()
    assert api.get("/api/users?limit=1").status_code == 200
