"""The ``replicates`` field of a spec (``replicates: {n: 40, vary: data}``); harness/running/replicate_tasks.py
turns it into tasks, harness/verdict/replicate_verdict.py judges them."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["ReplicatesSpec", "Vary"]

# What changes from one replicate to the next.
Vary = Literal["data", "seeds", "folds", "seeds+folds"]


class ReplicatesSpec(BaseModel):
    """``replicates: {n: 40, vary: seeds}``: the spec is fitted ``n`` times, replicate 1 as written and
    each further one with seeds derived from the spec's seed and the replicate number.

    ``vary``: ``seeds`` (the learners' random streams), ``folds`` (new sample splits), ``seeds+folds``,
    or ``data`` (a fresh draw of a generated dataset, with new folds and seeds: a new analysis). Left
    out, it is ``data`` for a generated dataset and ``seeds`` otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    n: int
    vary: Optional[Vary] = None

    @field_validator("n")
    @classmethod
    def _n(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"must be at least 2 (replicate 1 is the spec as written), got {value}")
        return value
