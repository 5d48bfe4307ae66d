"""Arrays that the run and its worker processes map from one piece of memory (Linux).

At a million rows a design's table, its row positions and its fold labels take about 80 MB.
Pickled to a worker they would exist twice: in the run's process (for the report, and for a retry
should the worker die) and in the worker. Instead the run keeps them in anonymous memory files
(``memfd_create``) and a worker receives a reference: it maps the same pages copy-on-write, so they
are counted once in the machine's memory and nothing the worker does reaches the run's copy.

A reference names a file descriptor of the run's process (``/proc/<pid>/fd/<n>``), so only
processes on the same machine can use it: the runner shares arrays only with its own worker
processes (``WorkerPool.shares_memory``); a Dask cluster receives the arrays themselves.
"""

from __future__ import annotations

import mmap
import os
import weakref
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

__all__ = [
    "SharedFrame",
    "SharedRef",
    "attach",
    "available",
    "portable",
    "portable_frame",
    "reference",
    "resolved",
    "resolved_frame",
    "shared_copy",
    "shared_frame",
]

# The memory file behind each mapping the run created; closed when the mapping is garbage.
_FDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def available() -> bool:
    """Whether this system has anonymous memory files (Linux)."""
    return hasattr(os, "memfd_create")


@dataclass(frozen=True)
class SharedRef:
    """Where a worker finds an array of the run's process: its memory file and layout."""

    pid: int
    fd: int
    inode: int
    nbytes: int
    dtype: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int


@dataclass(frozen=True)
class SharedFrame:
    """A frame of float64 columns whose values are one shared (n_rows, n_columns) array."""

    columns: tuple[str, ...]
    values: SharedRef


def shared_copy(array: np.ndarray, order: str = "C") -> np.ndarray:
    """``array`` copied into a new memory file (same shape and dtype; ``order`` of the copy)."""
    out = _new_shared(array.shape, array.dtype, order)
    out[...] = array
    return out


def shared_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A float64 copy of ``frame`` held in a memory file as one block, column by column (no
    temporary n x p copy); the index becomes 0..n-1."""
    values = _new_shared((len(frame), frame.shape[1]), np.dtype(np.float64), "F")
    for j in range(frame.shape[1]):
        values[:, j] = frame.iloc[:, j].to_numpy(dtype=np.float64)
    return pd.DataFrame(values, columns=frame.columns, copy=False)


def _new_shared(shape: tuple[int, ...], dtype: np.dtype, order: str) -> np.ndarray:
    """An empty array in a new memory file; a private array when the process has no file
    descriptor left (each shared array holds two: a spec file of hundreds of specs may meet the
    limit) or the system no memory files: it then travels to a worker as a copy."""
    nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)  # a mapping cannot be empty
    try:
        fd = os.memfd_create("dml-parity", os.MFD_CLOEXEC)
    except OSError:
        return np.empty(shape, dtype, order=order)
    try:
        os.ftruncate(fd, nbytes)
        buffer = mmap.mmap(fd, nbytes)  # keeps a duplicate of fd
    except OSError:
        os.close(fd)
        return np.empty(shape, dtype, order=order)
    _FDS[buffer] = fd
    weakref.finalize(buffer, os.close, fd)
    return np.ndarray(shape, dtype, buffer=buffer, order=order)


def _mapping_of(array: np.ndarray) -> Optional[mmap.mmap]:
    base: Any = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return base if base is not None and base in _FDS else None


def reference(array: np.ndarray) -> Optional[SharedRef]:
    """The reference of an array that lies in one of this process's memory files, else None."""
    buffer = _mapping_of(array)
    if buffer is None:
        return None
    fd = _FDS[buffer]
    start = np.frombuffer(buffer, dtype=np.uint8, count=1).__array_interface__["data"][0]
    return SharedRef(
        pid=os.getpid(),
        fd=fd,
        inode=os.fstat(fd).st_ino,
        nbytes=len(buffer),
        dtype=array.dtype.str,
        shape=array.shape,
        strides=array.strides,
        offset=array.__array_interface__["data"][0] - start,
    )


def attach(ref: SharedRef) -> np.ndarray:
    """The array ``ref`` names, mapped copy-on-write from the run's memory file."""
    path = f"/proc/{ref.pid}/fd/{ref.fd}"
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_ino != ref.inode:  # the run has closed it: a stale reference
            raise RuntimeError(f"{path} is no longer the run's shared array")
        buffer = mmap.mmap(handle.fileno(), ref.nbytes, access=mmap.ACCESS_COPY)
    return np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=buffer, offset=ref.offset, strides=ref.strides)


def portable(array: Optional[np.ndarray]) -> Any:
    """For pickling: the reference of a shared array, anything else as it is."""
    ref = reference(array) if isinstance(array, np.ndarray) else None
    return array if ref is None else ref


def resolved(value: Any) -> Any:
    """After unpickling: the array a reference names, anything else as it is."""
    return attach(value) if isinstance(value, SharedRef) else value


def portable_frame(frame: pd.DataFrame) -> Any:
    """For pickling: a frame built by :func:`shared_frame` as a :class:`SharedFrame`, else the frame."""
    if not isinstance(frame, pd.DataFrame):  # None: a Dask task's table travels apart (harness.running.dask_data)
        return frame
    if frame.shape[1] == 0 or not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        return frame
    if reference(frame.iloc[:, 0].to_numpy()) is None:  # a view of the first block: cheap to test
        return frame
    ref = reference(frame.to_numpy())  # one shared block: a view, not a copy
    return frame if ref is None else SharedFrame(tuple(frame.columns), ref)


def resolved_frame(value: Any) -> Any:
    if isinstance(value, SharedFrame):
        return pd.DataFrame(attach(value.values), columns=list(value.columns), copy=False)
    return value
