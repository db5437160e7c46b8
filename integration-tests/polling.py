"""Bounded waiting for the integration suites: poll, and on time-out say what and show the logs."""

import time

import pytest


def eventually(what: str, probe, timeout: float = 20, interval: float = 0.25, tails=lambda: ""):
    """Poll ``probe`` until it returns a truthy value; fail naming ``what``, the last value and ``tails()``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # noqa: BLE001  (a failing probe is just "not yet")
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last saw: {last!r}\n{tails()}")
