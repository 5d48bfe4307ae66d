"""Freed memory back to the system between the engines' fits.

glibc keeps freed heap memory for reuse, and after a large block is freed it raises its threshold
for serving blocks from fresh mappings (up to 32 MB), so the working sets of doubleml's and R's fits
(fold copies of the design, model matrices) stay resident after the objects are gone. The next
engine's fit would then stack its peak on top of them; ``malloc_trim`` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

__all__ = ["release_freed_memory"]


@lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_freed_memory() -> None:
    """Return the process's free heap pages to the system (glibc's ``malloc_trim``; a no-op elsewhere)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
