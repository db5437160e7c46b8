"""Consul's own traffic is protected with secrets generated on first start, kept owner-only."""

import stat
from pathlib import Path

import pytest

from conftest import LOGS, MESH, SECRETS, token


def _gossip_key() -> str:
    return (SECRETS / "gossip.hcl").read_text().split('"')[1]


def test_gossip_is_encrypted(mesh):
    import requests

    serf = requests.get("http://127.0.0.1:8500/v1/agent/self", headers={"X-Consul-Token": token("management")},
                        timeout=5).json()["Stats"]
    assert serf["serf_lan"]["encrypted"] == "true" and serf["serf_wan"]["encrypted"] == "true", serf


def test_the_gossip_key_is_owner_only_and_never_shown(mesh):
    assert stat.S_IMODE(SECRETS.stat().st_mode) == 0o700
    assert stat.S_IMODE((SECRETS / "gossip.hcl").stat().st_mode) == 0o600
    key = _gossip_key()
    assert len(key) >= 24
    # not on any process's command line (`ps` shows those to every user), not in any log
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert key not in cmdline.read_text(errors="replace"), cmdline
        except OSError:
            continue  # the process ended meanwhile
    for log in LOGS.glob("*.log"):
        assert key not in log.read_text(errors="replace"), log


CA = SECRETS / "tls" / "consul-agent-ca.pem"
OPERATOR = (str(SECRETS / "clients" / "operator.pem"), str(SECRETS / "clients" / "operator-key.pem"))


def test_consuls_https_api_proves_itself_with_this_meshs_ca_only(mesh):
    import requests

    assert requests.get("https://127.0.0.1:8501/v1/status/leader", verify=CA, cert=OPERATOR, timeout=5).ok
    # any other CA (here: the system's) refuses Consul's certificate
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get("https://127.0.0.1:8501/v1/status/leader", cert=OPERATOR, timeout=5)
    for key in ("consul-agent-ca-key.pem", "dc1-server-consul-0-key.pem"):
        assert stat.S_IMODE((CA.parent / key).stat().st_mode) == 0o600, key
    assert stat.S_IMODE(CA.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("service", list(MESH))
def test_every_envoy_takes_its_config_over_tls_and_checks_consuls_certificate(mesh, service):
    import json

    import requests
    dump = requests.get(f"http://127.0.0.1:{MESH[service].admin_port}/config_dump?resource=static_clusters",
                        timeout=5).json()
    agent = next(c["cluster"] for c in dump["configs"] if c["cluster"]["name"] == "local_agent")
    address = agent["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert address["port_value"] == 8503, address
    tls = json.dumps(agent.get("transport_socket", {}))
    assert "trusted_ca" in tls and CA.read_text().strip().splitlines()[1] in tls, tls[:300]


def test_plaintext_xds_is_off(mesh):
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", 8502)) != 0
