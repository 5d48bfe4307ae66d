"""The shape a baseline file must have before a check reads it: a file whose sha256 matches its
content can still hold what no ``baseline save`` writes (edited and signed again by hand, or by
another tool). Said in one line naming the field, as a spec file's errors are, not as a
``TypeError`` deep in the check."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, ValidationError, field_validator

from harness.errors import DataError
from harness.language.spec_messages import union_error

__all__ = ["check_shape"]

# Strict: the check computes with the file's values as they are, so text is no number. NaN is one
# (an estimate a package returned as NaN).
Number = Optional[Union[StrictFloat, StrictInt]]
Numbers = dict[str, Union[Number, list[Number]]]


class _Open(BaseModel):
    # Fields a later release may add are kept, not refused.
    model_config = ConfigDict(extra="allow", strict=False)


class _Tolerance(_Open):
    limit: Number
    unit: Literal["relative", "se"]


class _Estimate(_Open):
    spec: str
    tier: Literal["exact", "statistical"]
    tolerance: _Tolerance
    python: Optional[Numbers] = None
    r: Optional[Numbers] = None
    learner_free: Optional[Numbers] = None

    @field_validator("python", "r")
    @classmethod
    def _has_coef(cls, block: Optional[Numbers]) -> Optional[Numbers]:
        # An engine's numbers always hold its coef (NaN where the package gave none): one without it
        # would leave the estimate uncompared, and the check would pass.
        if block is not None and "coef" not in block:
            raise ValueError("an engine's numbers without its coef")
        return block


class _SpecRecord(_Open):
    sha256: str
    fields: dict


class _Baseline(_Open):
    engines: list[Literal["python", "r"]]
    specs: dict[str, _SpecRecord]
    estimates: dict[str, _Estimate]
    versions: dict
    data: dict
    only: Optional[list[str]] = None


def check_shape(baseline: dict, path: Path) -> None:
    """Raise a one-line ``DataError`` naming the first field of ``baseline`` that no baseline holds."""
    try:
        _Baseline.model_validate(baseline)
    except ValidationError as err:
        errors = err.errors()
        loc, msg = union_error(errors) or (errors[0]["loc"], errors[0]["msg"].lower())
        field = ".".join(str(p) for p in loc)
        raise DataError(f"{path}: field '{field}': {msg} (a baseline is written by baseline save)") from None
