"""``python -m meshctl intentions``, acting with the operator's token from the environment as the consul
CLI finds it, against the real throwaway Consul (apps/common/testsupport/realconsul.py)."""

import uuid

import pytest

from meshctl import cli


@pytest.fixture
def destination():
    # unique, since the throwaway Consul lives for the whole run; short, to fit `list`'s column
    return f"o{uuid.uuid4().hex[:10]}"


def writer(consul, destination: str) -> str:
    return consul.token(rules=f'service "{destination}" {{ policy = "read" intentions = "write" }}')


def test_allow_list_and_delete_with_the_token_in_the_environment(consul_env, throwaway_consul, destination, capsys):
    consul_env.setenv("CONSUL_HTTP_TOKEN", writer(throwaway_consul, destination))
    assert cli.main(["intentions", "allow", "web", destination]) == 0
    assert cli.main(["intentions", "list"]) == 0
    assert ["web", destination, "allow"] in [line.split() for line in capsys.readouterr().out.splitlines()]
    assert cli.main(["intentions", "delete", "web", destination]) == 0


def test_the_token_file_wins_over_the_token_as_in_the_consul_cli(consul_env, throwaway_consul, destination,
                                                                 tmp_path):
    path = tmp_path / "token"
    path.write_text(writer(throwaway_consul, destination) + "\n")
    consul_env.setenv("CONSUL_HTTP_TOKEN_FILE", str(path))
    consul_env.setenv("CONSUL_HTTP_TOKEN", "11111111-2222-3333-4444-555555555555")
    assert cli.main(["intentions", "deny", "web", destination]) == 0


def test_a_refusal_from_consul_is_one_line_and_exit_1(consul_env, throwaway_consul, destination, capsys):
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.token(rules='service_prefix "" { policy = "read" }'))
    assert cli.main(["intentions", "allow", "web", destination]) == 1
    err = capsys.readouterr().err
    assert err.startswith("intentions: Consul refused: Permission denied") and "Traceback" not in err
    assert err.count("\n") == 1


def test_an_unreadable_token_file_is_said_plainly(consul_env, tmp_path, capsys):
    consul_env.setenv("CONSUL_HTTP_TOKEN_FILE", str(tmp_path / "missing"))
    assert cli.main(["intentions", "list"]) == 1
    assert "CONSUL_HTTP_TOKEN_FILE" in capsys.readouterr().err


def test_a_client_certificate_from_the_environment_reaches_https(consul_env, throwaway_consul, capsys):
    https = throwaway_consul.https
    consul_env.setenv("CONSUL_HTTP_ADDR", https.address)
    consul_env.setenv("CONSUL_CACERT", str(https.ca_file))
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.management)
    assert cli.main(["intentions", "list"]) == 1  # Consul asks for a client certificate
    assert "Consul does not answer" in capsys.readouterr().err
    consul_env.setenv("CONSUL_CLIENT_CERT", str(https.cert_file))
    consul_env.setenv("CONSUL_CLIENT_KEY", str(https.key_file))
    assert cli.main(["intentions", "list"]) == 0
