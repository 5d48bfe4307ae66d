"""Which process of a run holds its memory: each process's PSS, sampled every 50 ms.

    .venv/bin/python bench/common/tree_memory.py COMMAND...

Prints the tree's peak (the sum of PSS over the command and its descendants) with each process's
share at that moment, then each process's own peak. PSS splits a shared page between the
processes that map it, so pages the fork server shares with a worker count once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common.sampling import TreeSampler, pss  # noqa: E402


def main() -> None:
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = TreeSampler([proc.pid], interval=0.05, memory=pss)
    sampler.start()
    proc.wait()
    sampler.stop_event.set()
    sampler.join()
    print(f"tree peak {sampler.peak >> 20} MB")
    for pid, share in sampler.at_peak.items():
        print(f"  at the tree's peak: {share >> 20:6d} MB  {sampler.names.get(pid, pid)}")
    for pid, own in sampler.own_peak.items():
        print(f"  own peak:           {own >> 20:6d} MB  {sampler.names.get(pid, pid)}")


if __name__ == "__main__":
    main()
