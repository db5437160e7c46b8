"""A server `make up` runs next to the mesh (Prometheus: ``meshctl.metrics``; Jaeger:
``meshctl.traces``), built from the Go module proxy by a script of its own. The shop never waits for
that build: when the binary is missing, `make up` starts the build in the background (niced), and the
build starts the server when it is done (``python -m meshctl <up_command>``)."""

import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from meshctl.procs import Proc


@dataclass(frozen=True)
class Companion:
    name: str  # its process' name under volumes/run and volumes/logs
    binary: Path  # where its build script leaves it (.cache/<name>/<name>)
    build_script: Path
    ready_url: str  # answers 200 once it serves
    up_command: str  # `python -m meshctl <up_command>` starts it

    def built(self) -> bool:
        return self.binary.exists() and os.access(self.binary, os.X_OK)

    def ready(self, timeout: float = 1) -> bool:
        try:
            with urllib.request.urlopen(self.ready_url, timeout=timeout) as answer:
                return answer.status == 200
        except OSError:
            return False

    def build_argv(self) -> list[str]:
        """The background build: the binary built (niced), then the server started."""
        return ["bash", "-c", f'nice -n 19 bash "$1" && exec "$2" -m meshctl {self.up_command}',
                f"build-{self.name}", str(self.build_script), sys.executable]

    def processes(self, run_dir: Path, log_dir: Path) -> tuple[Proc, Proc]:
        """The server, and its background build."""
        return Proc(self.name, run_dir, log_dir), Proc(f"{self.name}-build", run_dir, log_dir)
