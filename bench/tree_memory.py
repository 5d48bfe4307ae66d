"""Which process of a run holds its memory: each process's PSS, sampled every 50 ms.

    .venv/bin/python bench/tree_memory.py COMMAND...

Prints the tree's peak (the sum of PSS over the command and its descendants) with each process's
share at that moment, then each process's own peak. PSS splits a shared page between the
processes that map it, so pages the fork server shares with a worker count once.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil


def sample(cmd: list[str], interval: float = 0.05) -> tuple[int, dict[int, int], dict[int, int], dict[int, str]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(proc.pid)
    own_peak: dict[int, int] = {}
    names: dict[int, str] = {}
    tree_peak, at_peak = 0, {}
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        now = {}
        for p in procs:
            try:
                now[p.pid] = p.memory_full_info().pss
                names.setdefault(p.pid, " ".join(p.cmdline())[:80])
            except psutil.Error:
                continue
            own_peak[p.pid] = max(own_peak.get(p.pid, 0), now[p.pid])
        if sum(now.values()) > tree_peak:
            tree_peak, at_peak = sum(now.values()), now
        time.sleep(interval)
    return tree_peak, at_peak, own_peak, names


def main() -> None:
    tree_peak, at_peak, own_peak, names = sample(sys.argv[1:])
    print(f"tree peak {tree_peak >> 20} MB")
    for pid, pss in at_peak.items():
        print(f"  at the tree's peak: {pss >> 20:6d} MB  {names[pid]}")
    for pid, pss in own_peak.items():
        print(f"  own peak:           {pss >> 20:6d} MB  {names[pid]}")


if __name__ == "__main__":
    main()
