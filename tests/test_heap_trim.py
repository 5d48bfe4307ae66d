"""Freed heap pages go back to the system when there are many, and stay when there are few
(harness/engines/heap_trim.py): a trim after every small fit cost page faults in the next one.

Each case runs in a fresh Python process: the rule reads the process's heap, and a test process
that has run hundreds of tests holds holes of its own (CI failed on such a heap)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap (Linux)")

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20

# Run in the fresh process: ``hole(mb)`` frees ``mb`` MB of heap blocks between blocks still held
# (so only a trim returns them, not a shrinking heap top); ``check()`` is the engines' call after a
# fit and returns how far the resident size fell in it.
PRELUDE = """
import json, numpy as np
from harness.engines.heap_trim import free_heap_bytes, release_freed_memory, resident_bytes
kept = []
def hole(mb):
    blocks = [np.ones(10_000) for _ in range(2 * mb * 2**20 // 80_000)]  # 80 kB: heap, not mmap
    kept.append(blocks[1::2])
def check(at_least=None):
    before = resident_bytes()
    release_freed_memory() if at_least is None else release_freed_memory(at_least=at_least)
    return before - resident_bytes()
out = {}
"""


def _run(case: str) -> dict:
    code = PRELUDE + case + "\nprint(json.dumps(out))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {key: value / MB for key, value in json.loads(done.stdout).items()}


def test_many_free_pages_go_back() -> None:
    out = _run("hole(200); out['fell'] = check()")
    assert out["fell"] > 150


def test_few_free_pages_stay_for_the_next_fit() -> None:
    out = _run("hole(20); out['fell'] = check(); out['asked'] = check(at_least=0)")
    assert abs(out["fell"]) < 2  # kept for the next fit
    assert out["asked"] > 15  # they were there: an unconditional trim returns them


def test_pages_already_handed_back_do_not_call_for_another_trim() -> None:
    """glibc still counts trimmed pages between held blocks as free: only a resident size that
    grew again may call for a trim."""
    out = _run("hole(100); check(at_least=0); out['free'] = free_heap_bytes(); hole(20); out['fell'] = check()")
    assert out["free"] > 80  # counted free, though handed back
    assert abs(out["fell"]) < 2


def test_handed_back_pages_reused_and_freed_by_a_fit_count_again() -> None:
    """A fit that fills the handed-back holes and frees them leaves glibc's free bytes where they
    were after the last trim; the pages are resident again, and the grown resident size says so."""
    case = "hole(100); check(at_least=0); refill = [np.ones(10_000) for _ in range(100 * 2**20 // 80_000)]; "
    case += "del refill; out['fell'] = check()"
    assert _run(case)["fell"] > 60


def test_the_resident_size_counts_from_its_lowest_reading() -> None:
    """A large array freed between two fits lowers the resident size below where the last trim
    left it; the next fit's free pages count from there."""
    case = "large = np.ones(200 * 2**20 // 8); check(at_least=0); del large; out['between'] = check(); "
    case += "hole(120); out['fell'] = check()"
    out = _run(case)
    assert abs(out["between"]) < 2
    assert out["fell"] > 100


def test_memory_in_use_does_not_call_for_a_trim() -> None:
    """A resident size grown by blocks still in use, with few free pages among them: nothing worth
    a trim (it would hand back the few, and the next fit fault them in)."""
    case = "check(at_least=0); live = [np.ones(10_000) for _ in range(100 * 2**20 // 80_000)]; hole(20); "
    case += "out['fell'] = check(); out['asked'] = check(at_least=0)"
    out = _run(case)
    assert abs(out["fell"]) < 2
    assert out["asked"] > 15


# ``churn()``: page faults per round of two 8 MB arrays made and freed, as a large fit's steps do;
# also run on Dask workers (tests/test_dask_cluster.py).
CHURN_ROUNDS = """
def churn():
    import resource
    import numpy as np
    a = np.ones(1_000_000); b = a * 2; del a, b  # a held heap grows here, once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        a = np.ones(1_000_000); b = a * 2; del a, b
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
"""
CHURN = (
    "import json\nfrom harness.engines.heap_trim import hold_thresholds\n"
    + CHURN_ROUNDS
    + "out = {'fixed': churn(), 'held': hold_thresholds()}\nout['after'] = churn()\nprint(json.dumps(out))\n"
)


def test_held_thresholds_keep_large_blocks_on_the_heap_under_dasks_setting() -> None:
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which stops glibc's sliding
    thresholds: each 8 MB array is mapped and faulted in afresh. With the thresholds held (the
    README's preload does it), the heap serves them again."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", CHURN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["held"] is True
    # Mapped afresh, each array faults its pages in again: 840-1,350 a round measured (numpy asks
    # for huge pages, which the kernel gives when it can); from the held heap, none.
    assert out["fixed"] > 100, out
    assert out["after"] * 20 < out["fixed"], out
