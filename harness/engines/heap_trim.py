"""Freed memory back to the system between the engines' fits.

glibc keeps freed heap memory for reuse, and after a large block is freed it raises its threshold
for serving blocks from fresh mappings (up to 32 MB), so the working sets of doubleml's and R's fits
(fold copies of the design, model matrices) stay resident after the objects are gone. The next
engine's fit would then stack its peak on top of them; ``malloc_trim`` hands the free pages back.

Only when there is much to hand back: glibc itself keeps up to 64 MB free at the top of its heap
(twice that largest threshold), and pages handed back are faulted in again by the next fit. After
every 500-row forest fit that cost about 7,000 page faults and 23-26 ms of system CPU in the next
one, against about 1,000 and 9-10 ms now (bench/overhead/heap_trim_cost.py).

"Much" needs a second reading, because glibc's free bytes (``mallinfo2``) still count the pages a
trim handed back as long as their blocks sit between blocks in use: after one trim of a fragmented
heap they alone would call for a trim after every fit. So the process's resident size must also
have grown by as much since its lowest reading after the last trim. Both are read only here, after
a fit: the resident size a fit leaves behind stays within ``TRIM_ABOVE`` of that lowest reading,
or a trim hands back what is free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from typing import Optional

__all__ = ["MMAP_ABOVE", "TRIM_ABOVE", "free_heap_bytes", "hold_thresholds", "release_freed_memory", "resident_bytes"]

TRIM_ABOVE = 64 * 2**20  # free heap bytes below which a trim gains too little to pay for itself
MMAP_ABOVE = 32 * 2**20  # glibc's largest sliding mmap threshold (64-bit); its trim threshold is twice that
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


class _SinceLastTrim:
    """The lowest resident size read since the last trim (None before the first trim)."""

    resident_low: Optional[int] = None

    @classmethod
    def grown(cls, resident: Optional[int]) -> Optional[int]:
        """How far the resident size rose above that lowest reading; None if unknown."""
        if resident is None or cls.resident_low is None:
            return None
        cls.resident_low = min(cls.resident_low, resident)
        return resident - cls.resident_low


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


@lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


@lru_cache(maxsize=1)
def _mallinfo2():
    info = getattr(_libc(), "mallinfo2", None)  # glibc 2.33+
    if info is not None:
        info.restype = _MallInfo2
    return info


def free_heap_bytes() -> Optional[int]:
    """Bytes glibc holds free in its heaps (``mallinfo2``); None where it cannot say."""
    info = _mallinfo2()
    return None if info is None else int(info().fordblks)


def resident_bytes() -> Optional[int]:
    """The process's resident set size (``/proc/self/statm``); None where there is no /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_freed_memory(at_least: int = TRIM_ABOVE) -> None:
    """Return the process's free heap pages to the system (glibc's ``malloc_trim``; a no-op
    elsewhere) when glibc holds at least ``at_least`` bytes free and the resident size has grown by
    as much since its lowest reading after the last trim; a reading that is unavailable does not
    hold the trim back."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return
    free = free_heap_bytes()
    grown = _SinceLastTrim.grown(resident_bytes())
    if (free is not None and free < at_least) or (grown is not None and grown < at_least):
        return
    trim(0)
    _SinceLastTrim.resident_low = resident_bytes()


def hold_thresholds() -> bool:
    """Fix glibc's thresholds where its sliding ones end once a process has freed a 32 MB block:
    blocks under ``MMAP_ABOVE`` come from the heap, and the heap's top is cut back by itself only
    beyond ``TRIM_ABOVE`` free (``release_freed_memory`` decides the rest, after a fit).

    For a process whose thresholds someone fixed low: Dask's nanny starts its workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which also stops the sliding, so that every block over 128 kB
    is mapped and zero-filled afresh each time: a million-row R fit faulted in 4.6 times as many
    pages (README, "On a Dask cluster"). The README's preload calls this
    (harness/running/dask_worker_setup.py). False where glibc's ``mallopt`` is missing or refuses."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_ABOVE)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_ABOVE))
