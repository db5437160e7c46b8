"""make profile's parts that need no mesh: reading py-spy's collapsed stacks, the top frames and the
libraries' shares, and the flame graph."""

import re
from collections import Counter

from meshctl.bench import flamegraph, profile

SA = "execute (/w/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py:2300)"
REQ = "send (/w/.venv/lib/python3.11/site-packages/requests/adapters.py:600)"
URL3 = "urlopen (/w/.venv/lib/python3.11/site-packages/urllib3/connectionpool.py:700)"
VIEW = "create_order (/w/apps/orders/orders/api.py:70)"
HANDLE = "handle (/w/.venv/lib/python3.11/site-packages/gunicorn/workers/gthread.py:270)"


def test_collapsed_stacks_are_read_by_their_last_field(tmp_path):
    raw = tmp_path / "orders.txt"
    raw.write_text(f"{HANDLE};{VIEW};{SA} 30\n{HANDLE};{VIEW};{REQ};{URL3} 10\nnot a sample\n{HANDLE};{VIEW} 10\n")
    stacks = profile.read_collapsed(raw)
    assert sum(stacks.values()) == 50 and stacks[f"{HANDLE};{VIEW};{SA}"] == 30


def test_the_summary_ranks_frames_by_own_and_inclusive_samples_and_shares_libraries():
    stacks = Counter({f"{HANDLE};{VIEW};{SA}": 30, f"{HANDLE};{VIEW};{REQ};{URL3}": 10, f"{HANDLE};{VIEW}": 10})
    found = profile.summarise(stacks)
    assert found["busy_samples"] == 50
    assert found["self"][0] == ("execute (sqlalchemy/orm/session.py)", 30, 60.0)
    # the view is under every sample, so it says nothing: only frames under fewer than all are listed
    assert ("create_order (orders/orders/api.py)", 50, 100.0) not in found["total"]
    assert ("send (requests/adapters.py)", 10, 20.0) in found["total"]
    # each sample counts for its innermost library, not for the ones wrapping it (gunicorn, the view)
    assert found["libraries"] == {"sqlalchemy": 60.0, "requests+urllib3": 20.0, "shop": 20.0}


def test_the_flame_graph_draws_every_frame_as_wide_as_its_samples(tmp_path):
    stacks = Counter({f"{HANDLE};{VIEW};{SA}": 30, f"{HANDLE};{VIEW};{REQ}": 10})
    out = tmp_path / "orders.svg"
    flamegraph.write(stacks, out, "orders <c=16>")
    svg = out.read_text()
    assert svg.startswith("<svg") and "orders &lt;c=16&gt;" in svg
    widths = {title.rsplit(": ", 1)[0]: float(width) for title, width in
              re.findall(r"<title>(.*?)</title><rect x=\"[\d.]+\" y=\"\d+\" width=\"([\d.]+)\"", svg)}
    assert widths["all (40 samples)"] == flamegraph.WIDTH
    assert widths[VIEW] == flamegraph.WIDTH
    assert widths[SA] == flamegraph.WIDTH * 30 / 40 and widths[REQ] == flamegraph.WIDTH * 10 / 40
