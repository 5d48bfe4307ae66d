"""Freed heap pages go back to the system when there are many, and stay when there are few
(harness/engines/heap_trim.py): a trim after every small fit cost page faults in the next one."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from harness.engines.heap_trim import TRIM_ABOVE, free_heap_bytes, release_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap (Linux)")


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * 4096


def _free_in_the_middle(mb: int) -> list:
    """``mb`` MB of heap blocks freed between blocks still held, so glibc cannot give them back by
    shrinking its heap's top: only a trim returns them. The held blocks are returned."""
    blocks = [np.ones(10_000) for _ in range(2 * mb * 2**20 // 80_000)]  # 80 kB: from the heap, not mmap
    held = blocks[1::2]
    del blocks
    return held


def test_many_free_pages_go_back() -> None:
    held = _free_in_the_middle(200)
    assert free_heap_bytes() >= TRIM_ABOVE
    before = _resident_bytes()
    release_freed_memory()
    assert before - _resident_bytes() > 100 * 2**20
    assert len(held) > 0


def test_few_free_pages_stay_for_the_next_fit() -> None:
    release_freed_memory(at_least=0)  # whatever earlier tests left
    held = _free_in_the_middle(20)
    free = free_heap_bytes()
    assert 15 * 2**20 < free < TRIM_ABOVE
    before = _resident_bytes()
    release_freed_memory()
    assert abs(before - _resident_bytes()) < 2 * 2**20  # not handed back
    release_freed_memory(at_least=0)  # the same pages, asked for unconditionally
    assert before - _resident_bytes() > 10 * 2**20
    assert len(held) > 0
