"""What make up and the sidecar image put in each sidecar's registration for tracing: the share of
the traces it starts that it samples, the apps' own."""

import json

import pytest

from meshctl import traces


@pytest.mark.parametrize("ratio, sampling", [("", 10.0), ("1", 100.0), ("0.25", 25.0), ("0", 0.0)])
def test_a_sidecar_samples_the_traces_it_starts_at_the_apps_ratio(monkeypatch, ratio, sampling):
    monkeypatch.setenv(traces.SAMPLE_RATIO_ENV, ratio)
    config = traces.envoy_config("orders-sidecar-proxy")
    assert json.loads(config["envoy_listener_tracing_json"])["random_sampling"] == {"value": sampling}


@pytest.mark.parametrize("ratio", ["1.5", "-1", "half"])
def test_a_ratio_that_is_no_share_is_refused_before_a_sidecar_registers(monkeypatch, ratio):
    monkeypatch.setenv(traces.SAMPLE_RATIO_ENV, ratio)
    with pytest.raises(ValueError, match="TRACE_SAMPLE_RATIO"):
        traces.envoy_config("orders-sidecar-proxy")


def test_the_sidecars_default_ratio_is_the_apps():
    from shopcommon import tracing  # the apps' (the sidecar image does not carry it)

    assert (traces.SAMPLE_RATIO_ENV, traces.DEFAULT_SAMPLE_RATIO) == (tracing.RATIO_ENV, tracing.DEFAULT_RATIO)
