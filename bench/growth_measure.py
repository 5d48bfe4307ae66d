"""Timing one command from outside, for bench/growth.py: wall time, peak memory (the kernel's
high-water mark from ``/usr/bin/time -v`` and a sampled RSS of the process tree) and how much CPU
everything else on the machine used meanwhile."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import psutil

__all__ = ["Measure", "measure", "other_processes"]

TIME_BIN = Path("/usr/bin/time")


@dataclass
class Measure:
    label: str
    cmd: list[str]
    wall_s: float
    rc: int
    maxrss_mb: Optional[float]  # /usr/bin/time -v: the largest single process of the tree (kernel high-water mark)
    tree_peak_mb: float  # sampled sum of PSS over the process tree (RSS where PSS is unreadable)
    own_cpu_s: float
    other_cores: float  # CPU used by everything else on the machine, in cores, over the run
    load1: tuple[float, float]  # 1-minute load average at start and end
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_mb(self) -> float:
        """The peak used in ratios: the larger of the kernel's mark for one process and the tree's.

        The kernel's mark (/usr/bin/time) misses the tool's worker processes: they are children of
        multiprocessing's fork server, which the run never waits for, so their usage is not
        reported to it. The tree's sampled PSS counts them, pages shared between the fork server
        and the workers once.
        """
        return max(self.maxrss_mb or 0.0, self.tree_peak_mb)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _busy_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


class _TreeSampler(threading.Thread):
    """Memory (PSS: shared pages split between their users, so a page that the fork server shares
    with a worker counts once) and CPU of a process and its descendants, every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            rss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        rss += _pss(proc)
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self.stop_event.wait(self.interval)


def measure(label: str, cmd: list[str], cwd: Path, env: Optional[dict[str, str]] = None) -> Measure:
    """Run ``cmd`` in ``cwd`` and time it from outside; a non-zero exit other than 1 raises."""
    time_file = Path(tempfile.mkstemp(prefix="dmlp_growth_time_")[1])
    full = [str(TIME_BIN), "-v", "-o", str(time_file), *cmd] if TIME_BIN.exists() else cmd
    load_start = os.getloadavg()[0]
    busy0 = _busy_seconds()
    start = time.perf_counter()
    # A session of its own, so an interrupted bench stops the whole tree.
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sampler = _TreeSampler(proc.pid)
    sampler.start()
    try:
        _stdout, stderr = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        raise
    wall = time.perf_counter() - start
    sampler.stop_event.set()
    sampler.join()
    busy = _busy_seconds() - busy0
    maxrss = user_sys = None
    if TIME_BIN.exists():
        for line in time_file.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line.startswith("Maximum resident set size"):
                maxrss = int(line.rsplit(":", 1)[1]) / 1024
            elif line.startswith(("User time", "System time")):
                user_sys = (user_sys or 0.0) + float(line.rsplit(":", 1)[1])
    time_file.unlink(missing_ok=True)
    own_cpu = max(sum(sampler.cpu.values()), user_sys or 0.0)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{label}: exit {proc.returncode}\n$ {shlex.join(cmd)}\n{stderr[-3000:]}")
    m = Measure(
        label=label,
        cmd=cmd,
        wall_s=wall,
        rc=proc.returncode,
        maxrss_mb=maxrss,
        tree_peak_mb=sampler.peak_rss / 2**20,
        own_cpu_s=own_cpu,
        other_cores=max(0.0, (busy - own_cpu) / wall),
        load1=(load_start, os.getloadavg()[0]),
    )
    print(f"  {label}: {wall:.2f} s, peak {m.peak_mb:.0f} MB, other CPU {m.other_cores:.2f} cores", flush=True)
    return m


def other_processes(limit: int = 4) -> list[str]:
    """The busiest processes not started by this bench, for the report's load note."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid not in mine:
                proc.cpu_percent(None)
                procs.append(proc)
        except psutil.Error:
            continue
    time.sleep(1.0)
    busy = []
    for proc in procs:
        try:
            percent = proc.cpu_percent(None)
            if percent >= 10:
                busy.append((percent, " ".join(proc.info["cmdline"] or [])[:100]))
        except psutil.Error:
            continue
    return [f"{p:.0f}% {cmd}" for p, cmd in sorted(busy, reverse=True)[:limit]]
