"""Ctrl-C and SIGTERM held for the few system calls that swap a report folder into place.

Between moving the old folder aside and moving the new one in, an interrupt would leave no
``--out`` at all; just after, the run would say "no report written" beside a report written, and
leave the old folder hidden beside it (found by an outside user, 2026-12-07). While held, a signal
is noted; once the swap is done it is raised as it would have been, marked ``report_written``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["HELD", "held_signals", "raise_held"]

HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def held_signals() -> Iterator[list[int]]:
    """Note HELD signals instead of acting on them; yields the list they are noted in. Only the
    main thread sets handlers: elsewhere nothing is held (Python runs handlers there alone)."""
    noted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous: dict[int, Any] = {}

    def note(number: int, frame: Any) -> None:
        noted.append(number)

    for number in HELD:
        previous[number] = signal.signal(number, note)
    try:
        yield noted
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def raise_held(noted: list[int]) -> None:
    """Act on the first signal noted, as its own handler does; what that raises is marked
    ``report_written`` (a KeyboardInterrupt's catcher then says the report is in place)."""
    if not noted:
        return
    try:
        signal.raise_signal(noted[0])
    except BaseException as err:
        err.report_written = True  # type: ignore[attr-defined]
        raise
