"""Engines: the same design and folds in, the same :class:`EngineResult` out."""

from harness.engines.result import EngineResult

__all__ = ["EngineResult"]
