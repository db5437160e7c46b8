"""Consul's own traffic is protected with secrets generated on first start, kept owner-only."""

import stat
from pathlib import Path

from conftest import LOGS, REPO

SECRETS = REPO / "volumes" / "secrets"


def _gossip_key() -> str:
    return (SECRETS / "gossip.hcl").read_text().split('"')[1]


def test_gossip_is_encrypted(consul_client):
    serf = consul_client.agent.self()["Stats"]
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
