"""The Python API: ``compare`` a doubleml model with its R twin, without a spec file; the result
is a :class:`ParityResult`."""

from harness.api.compare import compare
from harness.api.parity_result import ParityResult

__all__ = ["ParityResult", "compare"]
