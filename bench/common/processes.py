"""Measurements that run in several processes at once (two workers side by side), shared by the
benchmarks: each process puts one result on a queue."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

__all__ = ["gather"]


def gather(method: str, target: Callable[..., None], arguments: list[tuple]) -> list[Any]:
    """Start one process per entry of ``arguments`` together (start method ``method``: "fork" or
    "spawn"), each calling ``target(*entry, out)``, and return what each put on ``out``, in the
    order they finished."""
    context = multiprocessing.get_context(method)
    out = context.Queue()
    processes = [context.Process(target=target, args=(*entry, out)) for entry in arguments]
    for process in processes:
        process.start()
    results = [out.get() for _ in processes]
    for process in processes:
        process.join()
    return results
