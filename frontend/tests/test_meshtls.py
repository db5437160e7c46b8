"""What the mTLS client reads from an answer. (A call over real mTLS needs a CA; the integration
tests make it through the mesh.)"""

import pytest

from frontend import meshtls


@pytest.mark.parametrize("answer, allowed", [
    ({"status": 200, "body": "[]"}, True),
    ({"status": 404, "body": "not found"}, True),
    ({"status": 403, "body": "the service's own refusal"}, True),
    ({"status": 403, "body": "RBAC: access denied"}, False),
    ({"status": None, "body": "no answer: ConnectionRefusedError"}, False),
])
def test_only_envoy_rbac_refusals_and_silence_count_as_denied(answer, allowed):
    assert meshtls.allowed(answer) is allowed


def test_identity_from_consul_trusts_every_root():
    roots = {"Roots": [{"RootCert": "A\n"}, {"RootCert": "B\n"}]}
    leaf = {"CertPEM": "cert", "PrivateKeyPEM": "key"}
    assert meshtls.Identity.from_consul(roots, leaf) == meshtls.Identity("A\nB\n", "cert", "key")
