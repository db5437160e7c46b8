"""The mesh in containers (``services.yml``) as the bench sees it: which Compose project, where its
frontend is published, and each container's CPU time and memory while a row runs.

CPU and memory come from each container's cgroup files, found through its main process's
``/proc/<pid>/cgroup`` (so any cgroup driver or parent works): cgroup v2's ``cpu.stat`` and
``memory.current`` where the v2 hierarchy has them, else cgroup v1's ``cpuacct`` and ``memory``
(a hybrid host mixes the two). Where no cgroup file can be read (an engine on another machine or in
a VM) ``docker stats`` stands in, and its CPU figures are estimates. The cluster (``cluster.py``)
is sampled the same way, container by container.
"""

import json
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import requests

from meshctl.bench.procstats import Periodic

CGROUP_ROOT = Path("/sys/fs/cgroup")
DEFAULT_PROJECT = "shop"  # services.yml's `name:`
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_PROJECT = "com.docker.compose.project"
MIB = 1024 * 1024


class DockerError(Exception):
    """A docker command failed; the message has its output."""


def project() -> str:
    """The Compose project the bench measures: ``$COMPOSE_PROJECT_NAME`` as Compose itself reads it."""
    return os.environ.get("COMPOSE_PROJECT_NAME") or DEFAULT_PROJECT


def frontend_url(port: int) -> str:
    """Where services.yml publishes the frontend: ``$FRONTEND_PORT``, else its definition's port."""
    return f"http://127.0.0.1:{os.environ.get('FRONTEND_PORT') or port}"


def up_command(name: str, file: str = "services.yml") -> str:
    return f"docker compose -p {name} -f {file} up --build -d --wait"


def components(services: list[str]) -> tuple[list[str], list[str]]:
    """The Compose services the bench samples: each app and its sidecar (required), and each
    app's database where it has one (``db_<service>``, measured when running)."""
    return ([name for service in services for name in (service, f"{service}-sidecar")],
            [f"db_{service}" for service in services])


def answers(url: str) -> bool:
    try:
        # no proxy from the environment between us and 127.0.0.1
        with requests.Session() as http:
            http.trust_env = False
            return http.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def docker(*args: str, timeout: float = 30) -> str:
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DockerError(f"docker {args[0]}: {exc}") from None
    if done.returncode != 0:
        raise DockerError(f"docker {args[0]}: {(done.stderr or done.stdout).strip()[-300:]}")
    return done.stdout


def running(name: str) -> dict[str, str]:
    """Compose service name -> full container id, for the project's running containers."""
    out = docker("ps", "--no-trunc", "--filter", f"label={COMPOSE_PROJECT}={name}",
                 "--format", f'{{{{.Label "{COMPOSE_SERVICE}"}}}} {{{{.ID}}}}')
    return dict(line.split() for line in out.splitlines() if line.strip())


def environment(project: str, service: str) -> dict[str, str]:
    """The environment Compose gave ``service``'s running container in ``project``."""
    ids = running(project)
    if service not in ids:
        raise DockerError(f"{service} is not running in project {project}")
    variables = json.loads(docker("inspect", "-f", "{{json .Config.Env}}", ids[service]))
    return dict(item.split("=", 1) for item in variables or [] if "=" in item)


def measured(name: str, required: Sequence[str], optional: Sequence[str] = ()) -> tuple[dict[str, str], str | None]:
    """The containers to sample (Compose service -> id), or what of them is not running: every
    ``required`` one, and each ``optional`` one that runs."""
    ids = running(name)
    if not ids:
        # the way in answered, so some stack runs: most likely another project's
        return {}, f"no container of Compose project {name} runs; is COMPOSE_PROJECT_NAME right?"
    missing = [component for component in required if component not in ids]
    if missing:
        return {}, f"{', '.join(missing)} not running in project {name}"
    return {component: ids[component] for component in [*required, *optional] if component in ids}, None


def cgroup_paths(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as controller -> path; cgroup v2's one hierarchy is under ``""``."""
    paths = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


@dataclass(frozen=True)
class Counters:
    """Where one container's counters are."""

    cpu: Path  # cumulative CPU: v2 cpu.stat (usage_usec) or v1 cpuacct.usage (ns)
    memory: Path  # v2 memory.current or v1 memory.usage_in_bytes, beside the rest of its memory files

    @property
    def source(self) -> str:
        cpu = "v2 cpu.stat" if self.cpu.name == "cpu.stat" else "v1 cpuacct.usage"
        return f"cgroup files: {cpu}, {'v2' if self.memory.name == 'memory.current' else 'v1'} {self.memory.name}"


def find_counters(paths: dict[str, str], root: Path = CGROUP_ROOT) -> Counters | None:
    """The container's v2 files where its v2 folder has them, else its v1 ones; None if neither."""
    # cgroup v2 alone is mounted on the root; beside v1 (a hybrid host) it is under unified/
    unified = root if (root / "cgroup.controllers").exists() else root / "unified"

    def existing(mount: Path, controller: str, name: str) -> Path | None:
        found = mount / paths[controller].lstrip("/") / name if controller in paths else None
        return found if found and found.exists() else None

    cpu = existing(unified, "", "cpu.stat") or existing(root / "cpuacct", "cpuacct", "cpuacct.usage")
    memory = (existing(unified, "", "memory.current")
              or existing(root / "memory", "memory", "memory.usage_in_bytes"))
    return Counters(cpu, memory) if cpu and memory else None


class Usage(NamedTuple):
    cpu_s: float  # CPU seconds since the container started
    used: int  # bytes in use less inactive file cache, as `docker stats` counts it
    peak: int | None  # the kernel's peak since the container started, cache included; None if not kept
    # anonymous memory only: a file's pages in the page cache are charged to the first container that
    # read them, so a binary several containers run (Envoy) counts in one of them; None from docker stats
    anon: int | None = None


def _keyed(path: Path) -> dict[str, int]:
    """A ``name value`` file such as cpu.stat or memory.stat."""
    return {name: int(value) for name, value in (line.split() for line in path.read_text().splitlines())}


def read_counters(counters: Counters) -> Usage:
    if counters.cpu.name == "cpu.stat":
        cpu_s = _keyed(counters.cpu)["usage_usec"] / 1e6
    else:
        cpu_s = int(counters.cpu.read_text()) / 1e9
    folder = counters.memory.parent
    if counters.memory.name == "memory.current":
        peak, inactive, anon = folder / "memory.peak", "inactive_file", "anon"
    else:
        # v1 counts the folder's descendants too only under the total_ names
        peak, inactive, anon = folder / "memory.max_usage_in_bytes", "total_inactive_file", "total_rss"
    stat = _keyed(folder / "memory.stat")
    # page cache the kernel can drop at once is not what the container needs: left out, as docker stats does
    used = int(counters.memory.read_text()) - stat.get(inactive, 0)
    return Usage(cpu_s, used, int(peak.read_text()) if peak.exists() else None, stat.get(anon))


def cgroup_reader(ids: dict[str, str]) -> tuple[Callable[[], dict[str, Usage]], str] | None:
    """A reader of every container's cgroup counters and what it reads, or None where any
    container's files cannot be found (another machine's engine, Docker Desktop's VM)."""
    try:
        pids = docker("inspect", "-f", "{{.State.Pid}}", *ids.values()).split()
        found = {name: find_counters(cgroup_paths(Path(f"/proc/{pid}/cgroup").read_text()))
                 for name, pid in zip(ids, pids)}
    except (DockerError, OSError, ValueError):
        return None
    if len(pids) != len(ids) or None in found.values():
        return None

    def read() -> dict[str, Usage]:
        usage = {}
        for name, counters in found.items():
            try:
                usage[name] = read_counters(counters)
            except (OSError, ValueError, KeyError):
                pass  # the container stopped: its cgroup is gone
        return usage

    return read, next(iter(found.values())).source


UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
         "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def size(text: str) -> int:
    """``120.4MiB`` or ``1.5GB`` in bytes (docker's units, binary and decimal)."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if not found or found.group(2).upper() not in UNITS:
        raise ValueError(f"not a size: {text!r}")
    return round(float(found.group(1)) * UNITS[found.group(2).upper()])


def parse_stats(text: str) -> dict[str, tuple[float, int]]:
    r"""``docker stats --format '{{.Container}}\t{{.CPUPerc}}\t{{.MemUsage}}'`` lines as
    container -> (CPU percent of one core, bytes in use); a container it has no figures for
    (``--``: stopping, or just started) is left out."""
    stats = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        container, cpu, memory = line.split("\t")
        if "--" in (cpu.strip(), memory.split("/")[0].strip()):
            continue
        stats[container] = (float(cpu.strip().rstrip("%")), size(memory.split("/")[0]))
    return stats


class DockerStats:
    """Reads ``docker stats`` when no cgroup file can be: its CPU is a rate over the last second or so,
    so CPU seconds are that rate times the time since the previous sample, an estimate."""

    def __init__(self, ids: dict[str, str]):
        self.ids = ids
        self.cpu_s = dict.fromkeys(ids, 0.0)
        self.at: float | None = None

    def __call__(self) -> dict[str, Usage]:
        try:
            stats = parse_stats(docker("stats", "--no-stream", "--format",
                                       "{{.Container}}\t{{.CPUPerc}}\t{{.MemUsage}}", *self.ids.values()))
        except (DockerError, ValueError):
            return {}
        now = time.monotonic()
        usage = {}
        for name, container in self.ids.items():
            if container not in stats:
                continue
            percent, used = stats[container]
            if self.at is not None:
                self.cpu_s[name] += percent / 100 * (now - self.at)
            usage[name] = Usage(self.cpu_s[name], used, None)
        self.at = now
        return usage


def reader(ids: dict[str, str]) -> tuple[Callable[[], dict[str, Usage]], str, float]:
    """How to read the containers' usage, what that reads, and how often to sample it."""
    found = cgroup_reader(ids)
    if found:
        return *found, 0.25
    # docker stats takes a second or two itself
    return DockerStats(ids), "docker stats (CPU seconds estimated from its percentages)", 0.5


class ContainerSampler(Periodic):
    """Reads every container's usage when entered, every ``interval`` seconds, and when left.

    CPU is the last reading less the first; peak memory (and anonymous memory) the highest reading;
    the kernel's peak (cache included, since the container started) the last one, where kept.
    """

    def __init__(self, read: Callable[[], dict[str, Usage]], names: list[str], interval: float = 0.25):
        super().__init__(interval)
        self.read, self.names = read, names
        self.first: dict[str, float] = {}
        self.last: dict[str, Usage] = {}
        self.peak = dict.fromkeys(names, 0)
        self.peak_anon: dict[str, int] = {}

    def sample(self) -> None:
        for name, usage in self.read().items():
            self.first.setdefault(name, usage.cpu_s)
            self.last[name] = usage
            self.peak[name] = max(self.peak[name], usage.used)
            if usage.anon is not None:
                self.peak_anon[name] = max(self.peak_anon.get(name, 0), usage.anon)

    def results(self, count: int) -> dict[str, dict]:
        """Per container: CPU seconds, CPU seconds per 1,000 of ``count`` requests, peak memory in MiB."""
        out = {}
        for name in self.names:
            if name not in self.last:
                continue
            cpu = self.last[name].cpu_s - self.first[name]
            out[name] = {
                "cpu_s": round(cpu, 2),
                "cpu_s_per_1k": round(cpu * 1000 / count, 3) if count else None,
                "peak_mib": round(self.peak[name] / MIB, 1),
                "peak_anon_mib": round(self.peak_anon[name] / MIB, 1) if name in self.peak_anon else None,
                "kernel_peak_mib": None if self.last[name].peak is None else round(self.last[name].peak / MIB, 1),
            }
        return out
