"""Freed heap pages go back to the system when there are many, and stay when there are few
(harness/engines/heap_trim.py): a trim after every small fit cost page faults in the next one."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from harness.engines.heap_trim import TRIM_ABOVE, free_heap_bytes, release_freed_memory, resident_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap (Linux)")

MB = 2**20


def _free_in_the_middle(mb: int) -> list:
    """``mb`` MB of heap blocks freed between blocks still held, so glibc cannot give them back by
    shrinking its heap's top: only a trim returns them. The held blocks are returned."""
    blocks = [np.ones(10_000) for _ in range(2 * mb * MB // 80_000)]  # 80 kB: from the heap, not mmap
    held = blocks[1::2]
    del blocks
    return held


def test_many_free_pages_go_back() -> None:
    held = _free_in_the_middle(200)
    assert free_heap_bytes() >= TRIM_ABOVE
    before = resident_bytes()
    release_freed_memory()
    assert before - resident_bytes() > 100 * MB
    assert len(held) > 0


def test_few_free_pages_stay_for_the_next_fit() -> None:
    release_freed_memory(at_least=0)  # whatever earlier tests left
    held = _free_in_the_middle(20)
    assert free_heap_bytes() > 15 * MB
    before = resident_bytes()
    release_freed_memory()
    assert abs(before - resident_bytes()) < 2 * MB  # not handed back
    release_freed_memory(at_least=0)  # the same pages, asked for unconditionally
    assert before - resident_bytes() > 10 * MB
    assert len(held) > 0


def test_pages_already_handed_back_do_not_call_for_another_trim() -> None:
    """glibc still counts trimmed pages between held blocks as free (CI failed on a heap that
    earlier tests had left so): only pages resident again may count towards a trim."""
    held_early = _free_in_the_middle(100)
    release_freed_memory(at_least=0)
    assert free_heap_bytes() >= TRIM_ABOVE  # the handed-back holes, still counted free
    held = _free_in_the_middle(20)  # a small fit: its freed pages are resident
    before = resident_bytes()
    release_freed_memory()
    assert abs(before - resident_bytes()) < 2 * MB  # kept for the next fit
    assert len(held) > 0 and len(held_early) > 0


def test_new_free_pages_count_after_the_resident_size_fell_between_fits() -> None:
    """A large array freed between two fits lowers the resident size below its reading at the last
    trim; the free pages of the next fit must still call for one."""
    large = np.ones(200 * MB // 8)  # mmap'd: back to the system when freed, no trim needed
    release_freed_memory(at_least=0)
    del large
    held = _free_in_the_middle(120)
    before = resident_bytes()
    release_freed_memory()
    assert before - resident_bytes() > 100 * MB
    assert len(held) > 0


def test_handed_back_pages_reused_and_freed_by_a_fit_count_again() -> None:
    """A fit that fills the handed-back holes and frees them leaves glibc's free bytes where they
    were at the last trim; the pages are resident again, and the grown resident size says so."""
    held = _free_in_the_middle(100)
    release_freed_memory(at_least=0)
    refill = [np.ones(10_000) for _ in range(100 * MB // 80_000)]  # into the holes
    del refill
    before = resident_bytes()
    release_freed_memory()
    assert before - resident_bytes() > 60 * MB
    assert len(held) > 0
