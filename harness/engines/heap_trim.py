"""Freed memory back to the system between the engines' fits.

glibc keeps freed heap memory for reuse, and after a large block is freed it raises its threshold
for serving blocks from fresh mappings (up to 32 MB), so the working sets of doubleml's and R's fits
(fold copies of the design, model matrices) stay resident after the objects are gone. The next
engine's fit would then stack its peak on top of them; ``malloc_trim`` hands the free pages back.

Only when there is much to hand back: glibc itself keeps up to 64 MB free at the top of its heap
(twice that largest threshold), and pages handed back are faulted in again by the next fit. After
every 500-row forest fit that cost about 7,000 page faults and 23-26 ms of system CPU in the next
one, against about 1,000 and 9-10 ms now (bench/overhead/heap_trim_cost.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Optional

__all__ = ["TRIM_ABOVE", "free_heap_bytes", "release_freed_memory"]

TRIM_ABOVE = 64 * 2**20  # free heap bytes below which a trim gains too little to pay for itself


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


def release_freed_memory(at_least: int = TRIM_ABOVE) -> None:
    """Return the process's free heap pages to the system (glibc's ``malloc_trim``; a no-op
    elsewhere) when glibc holds at least ``at_least`` bytes free, or cannot say how much."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return
    free = free_heap_bytes()
    if free is None or free >= at_least:
        trim(0)
