"""What a fit task carries to a Dask worker: its spec, and its arrays or names for them.

A run's tasks often share arrays: specs that differ only in the learner or the folds share one
design table (harness.running.runner ``_one_copy``), replicates that vary seeds or folds share their
spec's table, and specs with the same folds share the labels. Pickled into every task, such a
table would cross the network once per task. Instead each array that two or more of the run's
tasks use is scattered to the cluster once (to every worker, so a worker that dies takes no array
with it) and the tasks carry only its name; a worker that joins later fetches it from a peer, once.
An array that one task alone uses travels inside that task: it crosses once either way, and a
scatter would add a round trip.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from harness.running.fit import PreparedSpec

__all__ = ["ArrayStore", "rebuild"]

# The fields that hold a task's arrays; the rest of a design and its folds is a few hundred bytes.
DESIGN_ARRAYS = ("frame", "rows", "groups")
FOLDS_ARRAYS = ("labels", "cluster_folds")


def _digest(value: Any) -> str:
    """The content of an array field (a frame, an array, nested tuples of arrays)."""
    digest = hashlib.blake2b(digest_size=16)

    def feed(item: Any) -> None:
        if isinstance(item, pd.DataFrame):
            digest.update(repr((list(map(str, item.columns)), item.shape)).encode())
            for column in item.columns:  # column by column: no n x p copy
                feed(item[column].to_numpy())
        elif isinstance(item, np.ndarray):
            digest.update(repr((item.dtype.str, item.shape)).encode())
            digest.update(np.ascontiguousarray(item).data)
        elif isinstance(item, (tuple, list)):
            digest.update(f"({len(item)}".encode())
            for part in item:
                feed(part)
        else:
            digest.update(repr(item).encode())

    feed(value)
    return digest.hexdigest()


def _fields(prepared: PreparedSpec) -> list[tuple[str, Any]]:
    design = [(f"design.{name}", getattr(prepared.design, name)) for name in DESIGN_ARRAYS]
    folds = [(f"folds.{name}", getattr(prepared.folds, name)) for name in FOLDS_ARRAYS]
    return [(name, value) for name, value in design + folds if value is not None]


class ArrayStore:
    """The run's shared arrays on the cluster. ``scatter(value)`` puts one value there and
    returns its future."""

    def __init__(self, scatter: Callable[[Any], Any]) -> None:
        self._scatter = scatter
        self._digests: dict[int, str] = {}  # id of an array the run holds -> its content digest
        self._keep: list[Any] = []  # those arrays, so that no id is reused during the run
        self._uses: Counter = Counter()
        self._futures: dict[str, Any] = {}
        self.scattered_bytes = 0

    def _digest_of(self, value: Any) -> str:
        if id(value) not in self._digests:
            self._digests[id(value)] = _digest(value)
            self._keep.append(value)
        return self._digests[id(value)]

    def count(self, tasks: list[PreparedSpec]) -> None:
        """Count how many of the run's tasks use each array (run before ``lighten``)."""
        for prepared in tasks:
            self._uses.update({self._digest_of(value) for _, value in _fields(prepared)})

    def lighten(self, prepared: PreparedSpec) -> tuple[PreparedSpec, dict[str, Any]]:
        """The task without its shared arrays, and their futures by field."""
        refs: dict[str, Any] = {}
        for name, value in _fields(prepared):
            digest = self._digest_of(value)
            if self._uses[digest] < 2:
                continue
            if digest not in self._futures:
                self._futures[digest] = self._scatter(value)
                self.scattered_bytes += _nbytes(value)
            refs[name] = self._futures[digest]
        return rebuild(prepared, dict.fromkeys(refs)), refs

    def forget(self, refs: dict[str, Any]) -> None:
        """Scatter these arrays again on next use (their data was lost on the cluster)."""
        lost = {id(future) for future in refs.values()}
        self._futures = {d: f for d, f in self._futures.items() if id(f) not in lost}


def rebuild(prepared: PreparedSpec, arrays: dict[str, Any]) -> PreparedSpec:
    """The task with these fields set (``arrays``: values by field); on the worker, its shared
    arrays put back."""
    design = {name.split(".")[1]: value for name, value in arrays.items() if name.startswith("design.")}
    folds = {name.split(".")[1]: value for name, value in arrays.items() if name.startswith("folds.")}
    return dataclasses.replace(
        prepared,
        design=dataclasses.replace(prepared.design, **design) if design else prepared.design,
        folds=dataclasses.replace(prepared.folds, **folds) if folds else prepared.folds,
    )


def _nbytes(value: Any) -> int:
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=False, deep=False).sum())
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(part) for part in value)
    return 0
