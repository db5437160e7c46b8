"""`make bench` in short (1 s rows) against the real mesh: every row runs, the JSON and the chart are
written, and every order row's stock check holds. The numbers are reported, never asserted: they
depend on the machine (`pytest -s` shows the table)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SERVICES


@pytest.fixture(scope="module")
def wrk():
    if shutil.which("wrk") is None:
        message = "no wrk: `make bench` installs it (Debian package wrk; CI installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_short_bench_runs_every_row_and_the_stock_adds_up(mesh, wrk, tmp_path):
    run = subprocess.run([sys.executable, "-m", "meshctl.bench", "--seconds", "1", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    bench = json.loads((tmp_path / "latest.json").read_text())
    assert len(list(tmp_path.glob("bench-*.json"))) == 1
    assert (tmp_path / "latest.png").read_bytes().startswith(b"\x89PNG")
    components = {name for service in SERVICES for name in (service, f"{service}-sidecar-proxy")}

    assert [row["concurrency"] for row in bench["get"]] == [1, 8, 32]
    for row in bench["get"]:
        for side in ("direct", "mesh"):
            assert row[side]["ok"] > 0, row
            assert set(row[side]["resources"]) == components
        assert row["mesh_over_direct_rps"] > 0 and "added_p50_ms" in row

    assert [row["concurrency"] for row in bench["orders"]] == [1, 16, 64]
    for row in bench["orders"]:
        assert row["ok"] > 0, row
        assert row["stock"]["ok"], row["stock"]
        # every 201 wrk saw is an order; orders still in flight when wrk stopped land afterwards
        assert row["stock"]["orders_confirmed"] >= row["ok"]
        assert set(row["resources"]) == components
    assert "orders c=64" in run.stdout and "MISMATCH" not in run.stdout
