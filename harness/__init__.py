"""dml-parity: one double-machine-learning analysis in doubleml (Python) and DoubleML (R), diffed.

``harness.compare(model)`` and ``harness.ParityResult`` are loaded on first use: ``import harness``
stays light for the command line and its worker processes."""

from __future__ import annotations

from typing import Any

__all__ = ["ParityResult", "compare"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
