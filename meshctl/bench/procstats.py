"""CPU time and memory of the mesh's processes while a row runs, read from /proc.

Each component is the process tree under the pid its pid file names: a gunicorn master and its
workers, or an Envoy (``consul connect envoy`` exec's Envoy, so the pid is Envoy's).
"""

import os
import resource
import threading
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces): state is [0], ppid [1]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            kids.setdefault(int(fields[1]), []).append(int(entry.name))
    return kids


def tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    """``root`` and all its descendants."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += kids.get(pid, [])
    return found


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` so far (its own, not its waited-for children's)."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) if fields else None


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS now and VmHWM (the peak since the process started), in KiB; zeros for a gone process."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    except OSError:
        pass
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


class Periodic:
    """Calls ``sample()`` when entered, every ``interval`` seconds on a thread, and when left."""

    def __init__(self, interval: float):
        self.interval = interval
        self._started = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.sample()
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        raise NotImplementedError


class Sampler(Periodic):
    """Samples each component's process tree when entered, every ``interval`` seconds, and when left.

    CPU is each process's utime+stime at the last sample less at the first (a process born during
    the row counts from zero); peak RSS is the highest sum of VmRSS over the tree at any sample.
    """

    def __init__(self, roots: dict[str, int], interval: float = 0.25):
        super().__init__(interval)
        self.roots = roots
        self.first: dict[str, dict[int, int]] = {name: {} for name in roots}
        self.last: dict[str, dict[int, int]] = {name: {} for name in roots}
        self.peak_rss = dict.fromkeys(roots, 0)
        self.hwm = dict.fromkeys(roots, 0)

    def sample(self) -> None:
        kids = _children()
        for name, root in self.roots.items():
            rss = hwm = 0
            for pid in tree(root, kids):
                ticks = cpu_ticks(pid)
                if ticks is None:
                    continue
                self.first[name].setdefault(pid, ticks if not self._started else 0)
                self.last[name][pid] = ticks
                now, peak = memory_kib(pid)
                rss, hwm = rss + now, hwm + peak
            self.peak_rss[name] = max(self.peak_rss[name], rss)
            self.hwm[name] = hwm

    def results(self, requests: int) -> dict[str, dict]:
        """Per component: CPU seconds, CPU seconds per 1,000 requests, peak RSS and VmHWM in MiB."""
        out = {}
        for name in self.roots:
            ticks = sum(self.last[name][pid] - self.first[name][pid] for pid in self.last[name])
            cpu = ticks / TICKS_PER_SECOND
            out[name] = {
                "cpu_s": round(cpu, 2),
                "cpu_s_per_1k": round(cpu * 1000 / requests, 3) if requests else None,
                "peak_rss_mib": round(self.peak_rss[name] / 1024, 1),
                # each process's own peak since it started, summed: an upper bound, not this row's
                "hwm_mib": round(self.hwm[name] / 1024, 1),
            }
        return out


def machine_busy_seconds() -> float:
    """CPU time every core of this machine has spent at work since boot (/proc/stat's first line:
    user, nice, system, irq, softirq, steal), in seconds."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND


def children_seconds() -> float:
    """CPU time of this process's children that have ended (wrk, once each row's run is over)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


class Machine:
    """The whole machine's CPU over a block, less what this process's children (wrk) spent in it:
    the mesh, Consul, Prometheus, Jaeger and whatever else runs here."""

    def __enter__(self):
        self.busy, self.children = machine_busy_seconds(), children_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wrk_s = children_seconds() - self.children
        self.total_s = machine_busy_seconds() - self.busy

    def results(self, requests: int) -> dict:
        shop = max(self.total_s - self.wrk_s, 0.0)
        return {"cpu_s": round(shop, 2), "wrk_cpu_s": round(self.wrk_s, 2),
                "cpu_ms_per_request": round(shop * 1000 / requests, 2) if requests else None}
