"""The project's exceptions: each carries a one-line message naming the file, spec, field or column."""

from __future__ import annotations

__all__ = ["HarnessError", "SpecError", "DataError", "ModelError", "EnvironmentProblem"]


class HarnessError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits with ``exit_code``."""

    exit_code = 2


class SpecError(HarnessError):
    """A spec file that cannot be run as written."""


class DataError(HarnessError):
    """A data file, or the rows a spec selects from it, that cannot be used."""


class ModelError(HarnessError):
    """A doubleml model that ``harness.compare`` cannot read, or whose learners have no R twin."""


class EnvironmentProblem(HarnessError):
    """R, rpy2 or an R package is missing or unusable."""

    exit_code = 3
