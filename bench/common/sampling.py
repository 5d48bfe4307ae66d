"""Timing one command from outside, shared by the benchmarks: wall time, peak memory (the kernel's
high-water mark from ``/usr/bin/time -v`` and a sampled sum over the process tree), the tree's CPU
and how much CPU everything else on the machine used meanwhile."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import psutil

__all__ = ["TIME_BIN", "Measure", "TreeSampler", "busy_seconds", "measure_command", "other_processes", "pss", "rss"]

TIME_BIN = Path("/usr/bin/time")


@dataclass
class Measure:
    label: str
    cmd: list[str]
    wall_s: float
    rc: int
    maxrss_mb: Optional[float]  # /usr/bin/time -v: the largest single process the command waited for
    tree_peak_mb: float  # sampled sum of memory (RSS or PSS, as the caller chose) over the process tree
    own_cpu_s: float  # CPU of the measured tree (sampled per process)
    other_cores: float  # CPU used by everything else on the machine, in cores, over the run
    load1: tuple[float, float]  # 1-minute load average at start and end
    extra: dict[str, Any] = field(default_factory=dict)

    def short(self) -> str:
        return f"{self.label}: {self.wall_s:.2f}s rc={self.rc} rss={self.tree_peak_mb:.0f}MB other={self.other_cores:.2f}"

    @property
    def peak_mb(self) -> float:
        """The larger of the kernel's mark for one process and the tree's.

        The kernel's mark (/usr/bin/time) misses the tool's worker processes: they are children of
        multiprocessing's fork server, which the run never waits for, so their usage is not
        reported to it. The tree's sampled PSS counts them, pages shared between the fork server
        and the workers once.
        """
        return max(self.maxrss_mb or 0.0, self.tree_peak_mb)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def busy_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss(proc: psutil.Process) -> int:
    return proc.memory_info().rss


def pss(proc: psutil.Process) -> int:
    """Shared pages split between the processes that map them, so a page counts once per tree."""
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


class TreeSampler(threading.Thread):
    """Memory and CPU of the process trees under ``roots``, every ``interval`` seconds.

    ``peak`` is the largest sum of ``memory`` over all processes, ``at_peak`` each process's share
    at that moment, ``own_peak`` each process's own largest value, ``cpu`` each process's last
    user + system seconds.
    """

    def __init__(self, roots: list[int], interval: float = 0.1, memory: Callable[[psutil.Process], int] = rss) -> None:
        super().__init__(daemon=True)
        self.roots = [psutil.Process(pid) for pid in roots]
        self.interval = interval
        self.memory = memory
        self.peak = 0
        self.at_peak: dict[int, int] = {}
        self.own_peak: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.cpu: dict[int, float] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            now: dict[int, int] = {}
            for root in self.roots:
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:  # this tree is gone
                    continue
                for proc in procs:
                    try:
                        with proc.oneshot():
                            now[proc.pid] = self.memory(proc)
                            times = proc.cpu_times()
                            self.cpu[proc.pid] = times.user + times.system
                    except psutil.Error:
                        continue
                    self.own_peak[proc.pid] = max(self.own_peak.get(proc.pid, 0), now[proc.pid])
                    if proc.pid not in self.names:
                        self.names[proc.pid] = _command_line(proc)
            if sum(now.values()) > self.peak:
                self.peak, self.at_peak = sum(now.values()), now
            self.stop_event.wait(self.interval)


def _command_line(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:80]
    except psutil.Error:
        return f"pid {proc.pid}"


def measure_command(
    label: str,
    cmd: list[str],
    cwd: Path,
    env: Optional[dict[str, str]] = None,
    ok_codes: tuple[int, ...] = (0, 1),
    memory: Callable[[psutil.Process], int] = rss,
    interval: float = 0.1,
) -> Measure:
    """Run ``cmd`` in ``cwd`` and time it from outside; an exit code not in ``ok_codes`` raises."""
    time_file = Path(tempfile.mkstemp(prefix="dmlp_time_")[1])
    full = [str(TIME_BIN), "-v", "-o", str(time_file), *cmd] if TIME_BIN.exists() else cmd
    load_start = os.getloadavg()[0]
    busy0 = busy_seconds()
    start = time.perf_counter()
    # A session of its own, so an interrupted bench stops the whole tree (R, workers).
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    sampler = TreeSampler([proc.pid], interval, memory)
    sampler.start()
    try:
        _stdout, stderr = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        raise
    wall = time.perf_counter() - start
    sampler.stop_event.set()
    sampler.join()
    busy = busy_seconds() - busy0
    maxrss = user_sys = None
    if TIME_BIN.exists():
        for line in time_file.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line.startswith("Maximum resident set size"):
                maxrss = int(line.rsplit(":", 1)[1]) / 1024
            elif line.startswith(("User time", "System time")):
                user_sys = (user_sys or 0.0) + float(line.rsplit(":", 1)[1])
    time_file.unlink(missing_ok=True)
    # Processes that exit between samples lose up to one interval of CPU; the waited-for total from
    # /usr/bin/time is exact for everything that was reaped, so take the larger of the two.
    own_cpu = max(sum(sampler.cpu.values()), user_sys or 0.0)
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{label}: exit {proc.returncode}\n$ {shlex.join(cmd)}\n{stderr[-3000:]}")
    return Measure(
        label=label,
        cmd=cmd,
        wall_s=wall,
        rc=proc.returncode,
        maxrss_mb=maxrss,
        tree_peak_mb=sampler.peak / 2**20,
        own_cpu_s=own_cpu,
        other_cores=max(0.0, (busy - own_cpu) / wall),
        load1=(load_start, os.getloadavg()[0]),
    )


def other_processes(min_percent: float = 20, limit: Optional[int] = None, width: int = 90) -> list[str]:
    """The busiest processes outside this bench, sampled over one second (for the load note);
    with ``limit``, the busiest ``limit`` of them, busiest first."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["pid", "cmdline"]) if p.pid not in mine]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(1.0)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= min_percent:
            busy.append((pct, " ".join(p.info["cmdline"] or [])[:width]))
    if limit is not None:
        busy = sorted(busy, reverse=True)[:limit]
    return [f"{pct:.0f}% {cmd}" for pct, cmd in busy]
