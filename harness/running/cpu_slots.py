"""A CPU of its own for each process that fits (issue 24): ``--jobs`` workers and Dask workers on
one machine each take a CPU that no other one holds, and fit on it.

Why: ranger starts a thread for every forest it grows or predicts with (one, at ``num.threads =
1``), and the calling thread waits for it and wakes after every tree. Unpinned, two workers on two
cores keep placing those threads on the core the other worker is busy on, where they wait for a
time slice. Pinned, a worker's threads take turns on its own core: two processes fitting 500-row
forests at once took 313 ms per fit pinned against 358 ms unpinned, where 28 ms of each fit was
waiting (bench/overhead/pinned_pair.py; README, "Fits always run in worker processes").

A Dask worker pins all its threads, not only the task thread: its event loop takes the GIL
between the fit's steps (heartbeats, the memory monitor, messages) and, left free, can be woken on
the other worker's busy core and wait there for a time slice while the fit waits for the GIL
(bench/replicates/task_stream.py; the gain measured is small and uncertain: README, "Replicates").

A claim is an abstract Unix socket named after the user and the CPU (Linux only): the kernel
gives each name to one holder and frees it when the holder's process ends, however it ends, and
nothing is written to disk. A process that finds every CPU of its affinity mask claimed stays
unpinned, as does every process when ``DMLP_PIN_WORKERS=0``, on a machine of one CPU, and off
Linux. Pinning moves a fit, never its numbers: the fits are single-threaded and seeded.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from typing import Optional

__all__ = ["NAMESPACE", "OPT_OUT", "claim_cpu", "claimed_cpu"]

OPT_OUT = "DMLP_PIN_WORKERS"  # "0": leave every worker where the operating system puts it
# Claims are seen only by processes of the same namespace (the tests run their own beside the
# suite's other runs).
NAMESPACE = "DMLP_PIN_NAMESPACE"

_claim: Optional[tuple[socket.socket, int]] = None  # this process's: the socket that holds it, the CPU
_lock = threading.Lock()


def _name(cpu: int) -> str:
    return f"\0{os.environ.get(NAMESPACE, 'dml-parity')}-cpu-{os.getuid()}-{cpu}"


def claim_cpu(whole_process: bool = False) -> Optional[int]:
    """Pin the calling thread, and the threads it starts from then on, to this process's CPU
    (claimed on the first call: the first CPU of the affinity mask that no other process of this
    user holds). Returns the CPU, or None where the thread stays unpinned.

    Call it from the thread that fits, before the fit starts its threads (a Dask worker: in every
    task, as its task thread may change). ``whole_process``: at the claim, also pin every thread
    the process already has."""
    global _claim
    if os.environ.get(OPT_OUT, "1") == "0" or not sys.platform.startswith("linux"):
        return None
    with _lock:
        first = _claim is None
        if first:
            _claim = _first_free(sorted(os.sched_getaffinity(0)))
        if _claim is None:
            return None
        if first and whole_process:
            _pin_threads(_claim[1])
        os.sched_setaffinity(0, {_claim[1]})  # pid 0: the calling thread only
        return _claim[1]


def _pin_threads(cpu: int) -> None:
    """Every thread the process has now on ``cpu`` (threads started later inherit their starter's)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:  # ended meanwhile
            pass


def _first_free(allowed: list[int]) -> Optional[tuple[socket.socket, int]]:
    if len(allowed) < 2:
        return None  # one CPU: nothing to choose
    for cpu in allowed:
        holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            holder.bind(_name(cpu))
        except OSError:  # another process holds it
            holder.close()
            continue
        return holder, cpu
    return None


def claimed_cpu() -> Optional[int]:
    """The CPU this process holds, if any."""
    return _claim[1] if _claim else None


def _forget_inherited() -> None:
    """In a forked child the parent's claim stays the parent's: the child closes its copy of the
    socket (the name stays bound to the parent's) and claims its own CPU when it fits."""
    global _claim, _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at the fork
    if _claim is not None:
        _claim[0].close()
        _claim = None


if hasattr(os, "register_at_fork"):  # not on Windows, where nothing is pinned
    os.register_at_fork(after_in_child=_forget_inherited)
