"""schemathesis against the four APIs on the running mesh: each service directly, and the frontend's.

Each run reads the service's own ``/openapi.json`` and attacks every operation from it, with a fixed seed
and a bounded number of examples per operation: the documented examples, the coverage phase (each
constraint's edges, valid and not), fuzzing, and stateful sequences along the document's links (create,
then read, confirm, release). Every check runs but the two about authentication
(``contract/schemathesis.toml`` says what is configured, and why). A run that finds anything fails with
schemathesis' report, which names each failure and the curl that reproduces it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MESH, REPO

CONFIG = Path(__file__).parent / "contract" / "schemathesis.toml"
ST = Path(sys.executable).parent / "st"
SEED = os.environ.get("CONTRACT_SEED", "20261128")
EXAMPLES = os.environ.get("CONTRACT_EXAMPLES", "100")  # per operation and phase
REPORTS = REPO / "volumes" / "contract"


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else -1


@pytest.mark.parametrize("service", ["users", "products", "orders", "frontend"])
def test_schemathesis_finds_nothing(mesh, http, service):
    url = f"{MESH[service].url}/openapi.json"
    document = http.get(url, timeout=10).json()
    operations = sum(len(item) for item in document["paths"].values())
    REPORTS.mkdir(parents=True, exist_ok=True)
    command = [str(ST), "--config-file", str(CONFIG), "run", url, "--seed", SEED, "--max-examples", EXAMPLES,
               "--workers", "1", "--exclude-checks", "ignored_auth,object_level_authorization",
               "--generation-database", "none", "--request-timeout", "10", "--no-color",
               "--report", "junit", "--report-junit-path", str(REPORTS / f"{service}.xml")]
    # its working folder is where schemathesis keeps its cache (.schemathesis/): under volumes/
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPORTS,
                            env=os.environ | {"NO_COLOR": "1", "COLUMNS": "120"})
    output = result.stdout + result.stderr
    (REPORTS / f"{service}.txt").write_text(output)
    assert result.returncode == 0, f"schemathesis found problems in {service}'s API ({url}):\n{output[-12000:]}"
    tested = _count(r"Tested:\s+(\d+)", output)
    generated = _count(r"(\d+) generated", output)
    # every operation the document has was attacked: none skipped for a schema it could not read
    assert tested == operations, f"{tested} of {operations} operations tested:\n{output[-4000:]}"
    summary = {"service": service, "operations": operations, "test_cases": generated, "seed": SEED,
               "max_examples": int(EXAMPLES), "stateful": re.search(r"Scenarios:\s+(\d+)", output) is not None}
    (REPORTS / f"{service}.json").write_text(json.dumps(summary) + "\n")
    print(f"\nschemathesis, {service}: {operations} operations, {generated} test cases, nothing found")
