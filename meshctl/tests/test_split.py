"""``python -m meshctl split``: a service's weights between its versions (meshctl.splits), read and
moved in the service-splitter entry with the operator's token, against the real throwaway Consul."""

import uuid

import pytest

from meshctl import cli, entries, splits
from meshctl.intentions import client


@pytest.fixture
def consul_env(consul_env, throwaway_consul):
    """As the operator, with the management token."""
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.management)
    return consul_env


@pytest.fixture
def service(throwaway_consul):
    """A service in v1 and v2 with the resolver and splitter meshctl.entries derives for such a one."""
    name = f"p{uuid.uuid4().hex[:10]}"
    c = client(throwaway_consul.http.address, token=throwaway_consul.management)
    assert c.config.set("service-defaults", name, {"Protocol": "http"})  # a splitter needs L7
    for body in (entries.resolver(name, "2s", ["v1", "v2"]), entries.splitter(name, ["v1", "v2"])):
        assert c.config.set(body["Kind"], name, {k: v for k, v in body.items() if k not in ("Kind", "Name")})
    return name


def test_the_derived_split_sends_everything_to_the_first_version(consul_env, service, capsys):
    assert cli.main(["split", service]) == 0
    assert capsys.readouterr().out == f"{service}: v1=100 v2=0\n"


def test_moving_the_weights_says_before_and_after_and_consul_holds_them(consul_env, throwaway_consul, service,
                                                                       capsys):
    for asked, held in ((["v2=10"], "v1=90 v2=10"), (["v2=50"], "v1=50 v2=50"), (["v1=0"], "v1=0 v2=100"),
                        (["v1=12.5", "v2=87.5"], "v1=12.5 v2=87.5")):
        capsys.readouterr()
        assert cli.main(["split", service, *asked]) == 0
        out = capsys.readouterr().out
        assert out.strip().endswith(f"-> {held}"), out
        entry = client(throwaway_consul.http.address, token=throwaway_consul.management).config.get(
            "service-splitter", service)
        assert " ".join(f"{s['ServiceSubset']}={s['Weight']:g}" for s in entry["Splits"]) == held


@pytest.mark.parametrize("asked, why", [
    (["v3=10"], "there is no version v3 (the versions: v1, v2)"),
    (["v2=110"], "a weight is a percentage, at most 100"),
    (["v2=ten"], "write VERSION=PERCENT"),
    (["v2=10.125"], "write VERSION=PERCENT"),
    (["v2=10", "v2=20"], "v2 is given twice"),
    (["v1=10", "v2=20"], "the weights add up to 30, not 100"),
])
def test_a_split_that_cannot_be_is_refused_saying_why_and_nothing_changes(consul_env, service, asked, why, capsys):
    assert cli.main(["split", service, *asked]) == 1
    err = capsys.readouterr().err
    assert err.startswith("split: ") and why in err and err.count("\n") == 1, err
    assert cli.main(["split", service]) == 0
    assert capsys.readouterr().out == f"{service}: v1=100 v2=0\n"


def test_a_service_in_one_version_has_no_split(consul_env, capsys):
    assert cli.main(["split", f"q{uuid.uuid4().hex[:10]}", "v2=10"]) == 1
    assert "does not run in several versions" in capsys.readouterr().err


def test_a_token_that_may_not_write_it_is_refused_by_consul(consul_env, throwaway_consul, service, capsys):
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.token(rules='service_prefix "" { policy = "read" }'))
    assert cli.main(["split", service, "v2=10"]) == 1
    assert capsys.readouterr().err.startswith("split: Consul refused: Permission denied")


@pytest.mark.parametrize("asked, weights", [
    (["v2=10"], {"v1": 90, "v2": 10}), (["v1=100"], {"v1": 100, "v2": 0}), ([], None),
])
def test_the_one_version_left_out_gets_the_rest(asked, weights):
    if weights is None:
        with pytest.raises(splits.SplitError, match="add up to 0"):
            splits.weights(asked, ["v1", "v2"])
        return
    assert splits.weights(asked, ["v1", "v2"]) == weights


def test_with_three_versions_all_but_one_are_given():
    assert splits.weights(["v2=10", "v3=5"], ["v1", "v2", "v3"]) == {"v1": 85, "v2": 10, "v3": 5}
    with pytest.raises(splits.SplitError, match="give all but one of: v1, v3"):
        splits.weights(["v2=10"], ["v1", "v2", "v3"])


def test_the_services_own_identity_may_move_its_split_as_consuls_acls_allow(consul_env, throwaway_consul, service,
                                                                          capsys):
    """What docs/security.md says of the service tokens: service:write covers the service's splitter
    (a limit of Consul's ACLs, not a right we grant), and no other service's."""
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.token(services=[service]))
    assert cli.main(["split", service, "v2=10"]) == 0
    consul_env.setenv("CONSUL_HTTP_TOKEN", throwaway_consul.token(services=[f"other-{service}"]))
    assert cli.main(["split", service, "v2=20"]) == 1
    assert "Consul refused: Permission denied" in capsys.readouterr().err


def test_a_change_made_on_a_split_read_earlier_holds_only_while_it_is_that_split(throwaway_consul, service):
    """The mesh page sends the split its operator saw: weights moved meanwhile are not overwritten."""
    c = client(throwaway_consul.http.address, token=throwaway_consul.management)
    seen = splits.read(c, service)
    splits.change(c, service, ["v2=10"])  # someone else, meanwhile
    with pytest.raises(splits.SplitError, match=r"changed since you read it \(it is now v1=90 v2=10\)") as refused:
        splits.change(c, service, ["v2=50"], seen=seen.index)
    assert refused.value.status == 409
    assert str(splits.read(c, service)) == "v1=90 v2=10"
    before, after = splits.change(c, service, ["v2=50"], seen=splits.read(c, service).index)
    assert (str(before), str(after)) == ("v1=90 v2=10", "v1=50 v2=50")
