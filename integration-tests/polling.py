"""Bounded waiting for the integration suites: poll, and on time-out say what and show the logs."""

import subprocess
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


def steady(what: str, containers: list[str], checks, timeout: float, quiet: float = 4) -> None:
    """Until ``containers`` all run and are healthy, none (re)started in the last ``quiet`` seconds,
    and no check in ``checks`` sees a problem (each returns what it sees wrong, or '' for nothing).

    After an app container restarts, its sidecar restarts too, sometimes twice (its namespace
    watchdog and Compose's `depends_on: restart`), so one good answer is not yet a settled mesh.
    """
    deadline = time.monotonic() + timeout
    last, since, why = None, time.monotonic(), "not checked yet"
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.StartedAt}} {{.State.Health.Status}}",
                                *containers], capture_output=True, text=True, timeout=120).stdout.split("\n")
        if state != last:
            last, since = state, time.monotonic()
        if not all(line.split()[0::2] == ["running", "healthy"] for line in state if line):
            why = f"containers not all running and healthy: {state}"
        elif time.monotonic() - since < quiet:
            why = f"a container (re)started in the last {quiet:g}s: {state}"
        else:
            why = next((problem for check in checks if (problem := check())), "")
            if not why:
                return
        time.sleep(0.5)
    pytest.fail(f"{what} did not settle within {timeout:g}s: {why}")
