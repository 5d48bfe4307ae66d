"""dml-parity where an analysis lives: ``compare`` a doubleml model with its R twin without a spec
file (a :class:`ParityResult`), and the pytest plugin (``pytest_plugin``, ``parity_fixture``)."""

from harness.api.compare import compare
from harness.api.parity_result import ParityResult

__all__ = ["ParityResult", "compare"]
