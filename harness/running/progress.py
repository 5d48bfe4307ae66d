"""Progress of a run: specs done / total, current spec and engines, elapsed time and ETA.

On a terminal one status line is rewritten in place; elsewhere (pipes, CI logs) each event is one
plain line, so logs stay readable.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, TextIO

__all__ = ["Progress"]


class Progress:
    """Prints run progress to ``stream`` (stderr by default)."""

    def __init__(self, stream: Optional[TextIO] = None, live: Optional[bool] = None) -> None:
        self.stream = stream or sys.stderr
        if live is None:
            live = self.stream.isatty() and not os.environ.get("CI")
        self.live = live
        self.total = 0
        self.done = 0
        self.start = time.perf_counter()

    def begin(self, total: int, cached: int) -> None:
        self.total = total
        self.start = time.perf_counter()
        if cached:
            # Fits, not specs: each replicate of a spec is a fit of its own, served or fitted.
            noun = "fit" if cached == 1 else "fits"
            self._line(f"{cached} {noun} from the cache (judged again by this run), {total} to fit", final=True)

    def started(self, spec_id: str, engines: tuple[str, ...], where: str = "") -> None:
        place = f" in {where}" if where else ""
        self._line(f"[{self.done}/{self.total}] fitting {spec_id} ({', '.join(engines)}){place} {self._clock()}")

    def note(self, text: str) -> None:
        """Something the user must read whole (a worker died): its own line, never cut."""
        if self.live:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()

    def finished(self, spec_id: str, status: str) -> None:
        self.done += 1
        self._line(f"[{self.done}/{self.total}] {spec_id}: {status} {self._clock()}", final=not self.live)

    def end(self) -> None:
        if self.live and self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _clock(self) -> str:
        elapsed = time.perf_counter() - self.start
        if not self.done:
            return f"elapsed {elapsed:.0f}s"
        eta = elapsed / self.done * (self.total - self.done)
        return f"elapsed {elapsed:.0f}s, eta {eta:.0f}s"

    def _line(self, text: str, final: bool = False) -> None:
        if self.live:
            # Rewrite the one status line; pad to clear a longer previous text.
            self.stream.write("\r" + text.ljust(100)[:100] + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
